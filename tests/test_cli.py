"""CLI plumbing: --help everywhere, --version, one-line errors with documented exit codes."""

import subprocess
import sys

import pytest
import typer
import yaml
from typer.testing import CliRunner

from podbrief import __version__
from podbrief.cli import app
from podbrief.errors import ExitStatus

runner = CliRunner()


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PODBRIEF_HOME", str(tmp_path))
    return tmp_path


def command_names() -> list[str]:
    return sorted(info.name or info.callback.__name__.replace("_", "-") for info in app.registered_commands)


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"podbrief {__version__}"


@pytest.mark.parametrize("name", command_names())
def test_every_command_has_help(name):
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_init_writes_the_example_and_refuses_to_overwrite(home):
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert yaml.safe_load((home / "config.yaml").read_text())["rank"]["top"] == 5
    again = runner.invoke(app, ["init"])
    assert again.exit_code == ExitStatus.USAGE
    assert "already exists" in again.stderr
    assert runner.invoke(app, ["init", "--force"]).exit_code == 0


def test_unknown_command_is_usage_error():
    assert runner.invoke(app, ["no-such-command"]).exit_code == ExitStatus.USAGE


def test_module_entry_point_runs_outside_the_test_runner(home):
    result = subprocess.run([sys.executable, "-m", "podbrief", "reindex"], capture_output=True, text=True,
                            env={"PODBRIEF_HOME": str(home), "PATH": ""})
    assert result.returncode == 0
    assert result.stderr == "Reindexed 0 feeds and 0 episodes.\n"
    missing = subprocess.run([sys.executable, "-m", "podbrief", "--bogus"], capture_output=True, text=True,
                             env={"PODBRIEF_HOME": str(home), "PATH": ""})
    assert missing.returncode == ExitStatus.USAGE


def test_bad_config_is_one_line_with_config_exit_code(home):
    (home / "config.yaml").write_text("rank:\n  topp: 5\n")

    def uses_config(ctx: typer.Context) -> None:
        ctx.obj.config()
    app.command("config-probe", hidden=True)(uses_config)
    try:
        failed = runner.invoke(app, ["config-probe"])
        debug = runner.invoke(app, ["--debug", "config-probe"])
    finally:
        app.registered_commands.pop()
    assert failed.exit_code == ExitStatus.CONFIG
    assert failed.stderr.strip().splitlines() == [f"podbrief: error: {home / 'config.yaml'}:2: unknown key 'rank.topp'"]
    assert "Traceback" not in failed.output
    assert debug.exception is not None  # --debug lets the exception (and its traceback) through


def test_unexpected_errors_are_one_line_unless_debug():
    def boom(ctx: typer.Context) -> None:
        raise RuntimeError("kaput")
    app.command("boom-probe", hidden=True)(boom)
    try:
        result = runner.invoke(app, ["boom-probe"])
    finally:
        app.registered_commands.pop()
    assert result.exit_code == ExitStatus.ERROR
    assert result.stderr.strip() == "podbrief: error: unexpected error: RuntimeError: kaput (rerun with --debug for details)"
