"""The command-line interface: parse, call one function, render. No pipeline logic lives here."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException
from rich.console import Console

from podbrief import __version__, config as configmod
from podbrief.errors import ExitStatus, PodbriefError, UsageError
from podbrief.store import Index, Paths, atomic_write_text

class _Group(TyperGroup):
    """Turns failures into one stderr line and a documented exit code (tracebacks only with --debug)."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):  # typer's own exits and usage errors
            raise
        except PodbriefError as exc:
            if getattr(ctx.obj, "debug", False):
                raise
            _fail(str(exc), exc.exit_status)
        except KeyboardInterrupt:
            _fail("interrupted", ExitStatus.INTERRUPTED)
        except Exception as exc:  # a bug: one line unless --debug
            if getattr(ctx.obj, "debug", False):
                raise
            _fail(f"unexpected error: {type(exc).__name__}: {exc} (rerun with --debug for details)", ExitStatus.ERROR)


def _fail(message: str, status: ExitStatus) -> None:
    typer.echo(f"podbrief: error: {message}", err=True)
    raise typer.Exit(int(status))


app = typer.Typer(
    cls=_Group,
    name="podbrief",
    help="A local daily brief of the top insights from the podcasts you follow.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON.")


@dataclass
class Runtime:
    """What every command needs: where data lives, the config, and where to print."""

    paths: Paths
    config_path: Path
    debug: bool = False
    quiet: bool = False
    out: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    err: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))

    def config(self, **flags: Any) -> configmod.Config:
        """The effective config; `flags` are {"section__key": value} from command-line options."""
        return configmod.load(self.config_path, flags={k.replace("__", "."): v for k, v in flags.items()})

    def index(self) -> Index:
        return Index(self.paths)

    def print_json(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def runtime(ctx: typer.Context) -> Runtime:
    return ctx.ensure_object(Runtime)


def _version(value: bool) -> None:
    if value:
        print(f"podbrief {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug details."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors (for cron)."),
    config_file: Optional[Path] = typer.Option(None, "--config", help="Config file (default: in the podbrief home)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    paths = Paths.default()
    rt = Runtime(paths=paths, config_path=config_file or paths.config_file, debug=debug, quiet=quiet)
    if quiet:
        rt.err.quiet = True
    ctx.obj = rt


@app.command()
def init(ctx: typer.Context, force: bool = typer.Option(False, "--force", help="Overwrite an existing config.")) -> None:
    """Write a commented config file with every setting and its default."""
    rt = runtime(ctx)
    if rt.config_path.exists() and not force:
        raise UsageError(f"{rt.config_path} already exists (use --force to overwrite)")
    atomic_write_text(rt.config_path, configmod.example_text())
    rt.paths.home.mkdir(parents=True, exist_ok=True)
    rt.err.print(f"Wrote {rt.config_path}", markup=False)


@app.command()
def reindex(ctx: typer.Context) -> None:
    """Rebuild the SQLite index from the files in the data directory."""
    rt = runtime(ctx)
    with rt.index() as index:
        feeds, episodes = index.rebuild()
    rt.err.print(f"Reindexed {feeds} feeds and {episodes} episodes.", markup=False)


def main() -> None:
    """Console-script entry point."""
    app()
