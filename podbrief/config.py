"""Configuration: defaults < config file < PODBRIEF_* environment < command-line flags.

The defaults *are* `config.example.yaml`, so the documented example can never
drift from what the code does. Every key's type comes from its default value.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from podbrief.errors import ConfigError

ENV_PREFIX = "PODBRIEF_"
POSITIVE = {"network.timeout", "network.total_timeout"}  # 0 would make every request fail at once
# Settings with a fixed set of values, checked when each layer (file, environment, flags) is loaded.
CHOICES: dict[str, tuple[str, ...]] = {
    "transcribe.compute_type": ("int8", "float32"),
    "transcribe.device": ("auto", "cpu", "cuda"),
    "transcribe.speaker_model": ("mfcc", "voice-encoder"),
    "brief.deliver": ("none", "email", "obsidian:DIR"),
    "email.security": ("starttls", "ssl", "none"),
}
Config = dict[str, dict[str, Any]]


def example_text() -> str:
    """The commented example config shipped with the package (also the defaults)."""
    packaged = resources.files("podbrief").joinpath("config.example.yaml")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    # Running from a source checkout / editable install: the file sits at the repo root.
    return (Path(__file__).resolve().parent.parent / "config.example.yaml").read_text(encoding="utf-8")


def defaults() -> Config:
    return yaml.safe_load(example_text())


def _is_choice(value: Any, choices: tuple[str, ...]) -> bool:
    """One of `choices`; "prefix:DIR" stands for that prefix with a non-empty directory after it."""
    for choice in choices:
        prefix = choice.removesuffix("DIR")
        if value == choice or (prefix != choice and isinstance(value, str) and value.startswith(prefix)
                               and value[len(prefix):].strip()):
            return True
    return False


def _parse(text: str) -> Any:
    """yaml.safe_load, refusing anchors and aliases: a kilobyte of nested aliases expands to gigabytes."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.MarkedYAMLError(problem="anchors and aliases (&name, *name) are not allowed in the config",
                                       problem_mark=event.start_mark)  # type: ignore[arg-type]  # SafeLoader: a pure-Python Mark
    return yaml.safe_load(text)


def _key_lines(text: str) -> dict[str, int]:
    """Map dotted keys ("rank.top") to their 1-based line numbers in a YAML document."""
    lines: dict[str, int] = {}

    def walk(node: yaml.Node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                dotted = f"{prefix}{key_node.value}"
                lines[dotted] = key_node.start_mark.line + 1
                walk(value_node, dotted + ".")

    root = yaml.compose(text)
    if root is not None:
        walk(root, "")
    return lines


def _type_name(value: Any) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a mapping"}[type(value)]


def _coerce(key: str, value: Any, default: Any) -> Any:
    """Check `value` against the type of `default`; return it (ints widen to floats)."""
    if key in CHOICES and not _is_choice(value, CHOICES[key]):  # before the null check: a choice is never null
        raise ValueError(f"{key}: expected one of {', '.join(CHOICES[key])}, got {value!r}")
    if default is None or (value is None and isinstance(default, str)):
        return value
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ValueError(f"{key}: expected {_type_name(default)}, got {value!r}")
    # A key whose default is negative (llm.gpu_layers: -1 = all) may be negative.
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0 <= default:
        raise ValueError(f"{key}: must not be negative, got {value!r}")
    if key in POSITIVE and value == 0:
        raise ValueError(f"{key}: must be more than 0, got {value!r}")
    return value


def merge(base: Config, overrides: Mapping[str, Any], where: str = "", lines: Mapping[str, int] | None = None) -> Config:
    """Return `base` updated with validated `overrides`; unknown keys and wrong types raise ConfigError."""
    result = copy.deepcopy(base)
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{where}: the top level must be a mapping of sections")
    for section, values in overrides.items():
        location = f"{where}:{lines[section]}" if lines and section in lines else where
        if section not in base:
            raise ConfigError(f"{location}: unknown section {section!r} (known: {', '.join(base)})")
        if values is None:
            continue
        if not isinstance(values, Mapping):
            raise ConfigError(f"{location}: {section}: expected a mapping of settings")
        for key, value in values.items():
            dotted = f"{section}.{key}"
            location = f"{where}:{lines[dotted]}" if lines and dotted in lines else where
            if key not in base[section]:
                raise ConfigError(f"{location}: unknown key {dotted!r}")
            try:
                result[section][key] = _coerce(dotted, value, base[section][key])
            except ValueError as exc:
                raise ConfigError(f"{location}: {exc}") from None
    return result


def _env_overrides(base: Config, environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """PODBRIEF_<SECTION>_<KEY>=value, parsed as YAML so numbers, booleans and lists work."""
    found: dict[str, dict[str, Any]] = {}
    for section, values in base.items():
        for key in values:
            name = f"{ENV_PREFIX}{section}_{key}".upper()
            if name in environ:
                try:
                    value = _coerce(f"{section}.{key}", _parse(environ[name]), values[key])
                except yaml.YAMLError:
                    raise ConfigError(
                        f"environment variable {name}={environ[name]!r}: expected {_type_name(values[key])}"
                    ) from None
                except ValueError as exc:
                    raise ConfigError(f"environment variable {name}: {exc}") from None
                found.setdefault(section, {})[key] = value
    return found


def load(path: Path | None, environ: Mapping[str, str] | None = None, flags: Mapping[str, Any] | None = None) -> Config:
    """Load the effective config.

    `path` may not exist (then only defaults and the environment apply).
    `flags` is {"section.key": value} from the command line; None values are ignored.
    """
    config = defaults()
    if path is not None and path.exists():
        try:
            text = path.read_text(encoding="utf-8")
            data = _parse(text)
            lines = _key_lines(text)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config ({exc})") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark else str(path)
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise ConfigError(f"{where}: {problem}") from None
        if data is not None:
            config = merge(config, data, str(path), lines)
    config = merge(config, _env_overrides(config, os.environ if environ is None else environ), "environment")
    cli: dict[str, dict[str, Any]] = {}
    for dotted, value in (flags or {}).items():
        if value is not None:
            section, key = dotted.split(".", 1)
            cli.setdefault(section, {})[key] = value
    return merge(config, cli, "command line")
