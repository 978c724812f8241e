"""Who speaks when: speaker turns from the audio, offline, with numpy only.

The speech (the VAD regions the whisper engine found) is cut into chunks of 1.6 s.
Each chunk gets a voice embedding, the chunks are clustered (average-linkage on
cosine similarity, stopping below a threshold, so the number of speakers is found,
not given), and each region is split where its chunks change speaker.

Two embedders:
- `mfcc`: the mean and spread of 19 MFCCs; no weights, always available.
- `voice-encoder`: Resemblyzer's GE2E speaker encoder (a 3-layer LSTM, Apache-2.0),
  its weights read from the installed `resemblyzer` package (`podbrief[diarize]`) and
  run here in numpy: torch is never imported. Figures and the choice: docs/transcribe.md.
"""

from __future__ import annotations

import collections
import importlib.util
import pickle
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from podbrief.errors import ModelError

SAMPLE_RATE = 16_000
HOP = 160  # 10 ms frames
FFT_SIZE = 400  # 25 ms windows
MEL_BANDS = 40
CHUNK_FRAMES = 160  # 1.6 s: the voice encoder's partial utterance
CHUNK_HOP_FRAMES = 80
MIN_TURN_SECONDS = 2.0  # a shorter change of speaker inside a region is taken as noise
MIN_SHARE = 0.05  # a cluster with fewer of the chunks is not a speaker: its chunks join the nearest one
EXTRA_HINT = "pip install 'podbrief[diarize]'"


@dataclass(frozen=True)
class Diarization:
    """Who speaks when, and each speaker's voice: the mean of its chunks' embeddings."""

    turns: list[Turn]
    voices: dict[str, np.ndarray]


@dataclass(frozen=True)
class Turn:
    """A span of speech, in seconds, and who speaks in it ("SPEAKER_00", ...)."""

    start: float
    end: float
    speaker: str


class Embedder(Protocol):
    name: str
    threshold: float  # clusters more similar than this (average cosine) are one speaker

    def embed(self, mels: np.ndarray) -> np.ndarray:
        """(chunks, CHUNK_FRAMES, MEL_BANDS) mel power spectra -> (chunks, dims) unit vectors."""
        ...


# --- the front end ---------------------------------------------------------------------------


def _mel_filters() -> np.ndarray:
    """Slaney-style mel filterbank (librosa's default), so the voice encoder sees its training features."""
    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, FFT_SIZE // 2 + 1)

    def hz_to_mel(hz: np.ndarray) -> np.ndarray:
        linear = hz / (200.0 / 3)
        log = 15 + np.log(np.maximum(hz, 1e-10) / 1000) / (np.log(6.4) / 27)
        return np.where(hz >= 1000, log, linear)

    def mel_to_hz(mel: np.ndarray) -> np.ndarray:
        return np.where(mel >= 15, 1000 * np.exp((np.log(6.4) / 27) * (mel - 15)), mel * (200.0 / 3))

    edges = mel_to_hz(np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(SAMPLE_RATE / 2)), MEL_BANDS + 2))
    lower = (fft_freqs[None, :] - edges[:-2, None]) / np.diff(edges)[:-1, None]
    upper = (edges[2:, None] - fft_freqs[None, :]) / np.diff(edges)[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    return (weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]).astype(np.float32)


def mel_power(audio: np.ndarray) -> np.ndarray:
    """(frames, MEL_BANDS) mel power spectrogram, 25 ms Hann windows every 10 ms, centred."""
    padded = np.pad(audio.astype(np.float32), FFT_SIZE // 2)
    count = 1 + (padded.size - FFT_SIZE) // HOP
    window = np.hanning(FFT_SIZE + 1)[:-1].astype(np.float32)
    out = np.empty((count, MEL_BANDS), np.float32)
    filters = _mel_filters().T
    step = 20_000  # frames per block, to bound memory on long files
    for first in range(0, count, step):
        n = min(step, count - first)
        frames = np.lib.stride_tricks.as_strided(
            padded[first * HOP:], shape=(n, FFT_SIZE), strides=(padded.strides[0] * HOP, padded.strides[0]))
        spectrum = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
        out[first: first + n] = spectrum.astype(np.float32) @ filters
    return out


# --- embedders -------------------------------------------------------------------------------


class MfccEmbedder:
    """Mean MFCC 1-19 per chunk, in units of the file's frame-to-frame spread.

    Not standardised per chunk set: then one speaker's chunks would spread as widely as
    several speakers' do. Distances in units of the within-speech spread keep a scale,
    and the vectors are not centred, so a voice can be compared across episodes."""

    name = "mfcc"
    threshold = 0.9

    def embed(self, mels: np.ndarray) -> np.ndarray:
        log = np.log(mels + 1e-6)
        n = np.arange(MEL_BANDS)
        dct = np.cos(np.pi / MEL_BANDS * (n[None, :] + 0.5) * np.arange(1, 20)[:, None])
        mfcc = log @ dct.T
        spread = mfcc.std(axis=1).mean(axis=0)
        means = mfcc.mean(axis=1) / spread
        return (means / np.sqrt(2 * means.shape[1])).astype(np.float32)


class VoiceEncoder:
    """Resemblyzer's speaker encoder in numpy: LSTM(40 -> 256) x 3, linear, ReLU, L2 norm."""

    name = "voice-encoder"
    threshold = 0.65

    def __init__(self, weights: Path):
        self.layers, self.linear = _lstm_weights(weights)

    def embed(self, mels: np.ndarray) -> np.ndarray:
        x = mels.transpose(1, 0, 2)  # time first
        for w_ih, w_hh, bias in self.layers:
            gates_in = x @ w_ih.T + bias
            h = np.zeros((x.shape[1], w_hh.shape[1]), np.float32)
            c = np.zeros_like(h)
            outputs = np.empty((x.shape[0], *h.shape), np.float32)
            for t in range(x.shape[0]):
                i, f, g, o = np.split(gates_in[t] + h @ w_hh.T, 4, axis=1)
                c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
                h = _sigmoid(o) * np.tanh(c)
                outputs[t] = h
            x = outputs
        weight, bias = self.linear
        return _unit(np.maximum(x[-1] @ weight.T + bias, 0))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * x))


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-9)).astype(np.float32)


def resemblyzer_weights() -> Path | None:
    """The installed resemblyzer package's weights file, found without importing it (that imports torch)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    return path if path.is_file() else None


def _lstm_weights(path: Path) -> tuple[list[tuple[np.ndarray, ...]], tuple[np.ndarray, np.ndarray]]:
    state = read_torch_legacy(path)["model_state"]
    layers: list[tuple[np.ndarray, ...]] = [(state[f"lstm.weight_ih_l{n}"], state[f"lstm.weight_hh_l{n}"],
               state[f"lstm.bias_ih_l{n}"] + state[f"lstm.bias_hh_l{n}"]) for n in range(3)]
    return layers, (state["linear.weight"], state["linear.bias"])


def read_torch_legacy(path: Path) -> dict[str, Any]:
    """Read a PyTorch legacy-format (pre-1.6) checkpoint of float tensors without torch.

    The format is pickles in a row (magic, protocol, system info, the object whose tensors
    point at storages by key, the storage keys) then each storage as a count and raw floats.
    Only plain dicts and float tensors are accepted: any other class is refused, so the
    pickle cannot run code."""
    storages: dict[str, np.ndarray] = {}

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> object:
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return _TensorRef
            if (module, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            if (module, name) == ("torch", "FloatStorage"):
                return name
            raise pickle.UnpicklingError(f"unexpected {module}.{name}")

        def persistent_load(self, pid: tuple[Any, ...]) -> str:
            if pid[1] != "FloatStorage":
                raise pickle.UnpicklingError(f"unexpected storage {pid[1]}")
            return str(pid[2])

    try:
        with path.open("rb") as f:
            for _ in range(3):
                Unpickler(f).load()
            state = Unpickler(f).load()
            for key in Unpickler(f).load():
                (count,) = struct.unpack("<q", f.read(8))
                storages[str(key)] = np.frombuffer(f.read(4 * count), dtype="<f4")
        resolved = _resolve(state, storages)
        if not isinstance(resolved, dict):
            raise ValueError("the checkpoint is not a dict of tensors")
        return resolved
    except (OSError, EOFError, pickle.UnpicklingError, struct.error, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"cannot read voice encoder weights {path}: {exc}") from None


class _TensorRef:
    """What a pickled tensor rebuilds into here: a view of a storage, read once the storages are."""

    def __init__(self, storage: str, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: object):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _resolve(value: object, storages: dict[str, np.ndarray]) -> object:
    if isinstance(value, dict):
        return {k: _resolve(v, storages) for k, v in value.items()}
    if isinstance(value, _TensorRef):
        data = storages[value.storage]
        return np.lib.stride_tricks.as_strided(
            data[value.offset:], shape=value.size, strides=tuple(4 * s for s in value.stride)).copy()
    return value


def embedder(name: str | None) -> Embedder | None:
    """The embedder named by `transcribe.speaker_model` (None: none); ModelError when its package is missing."""
    if name is None:
        return None
    if name == "mfcc":
        return MfccEmbedder()
    weights = resemblyzer_weights()
    if weights is None:
        raise ModelError(f"diarization model {name!r} is not installed: {EXTRA_HINT}")
    return VoiceEncoder(weights)


# --- chunks, clustering, turns -----------------------------------------------------------------


def _chunk_starts(first: int, last: int) -> list[int]:
    """Chunk start frames covering frames [first, last); a short region gets one chunk around it."""
    if last - first <= CHUNK_FRAMES:
        return [max(0, (first + last - CHUNK_FRAMES) // 2)]
    starts = list(range(first, last - CHUNK_FRAMES, CHUNK_HOP_FRAMES))
    return [*starts, last - CHUNK_FRAMES]


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 - |a - b|^2 / 2: the cosine for unit vectors, a scaled distance for the others."""
    sq = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2 * a @ b.T
    return 1 - np.maximum(sq, 0) / 2


def cluster(embeddings: np.ndarray, threshold: float) -> np.ndarray:
    """Average-linkage clustering; stops when no pair of clusters is more similar than
    `threshold`. Returns a cluster index per row, numbered from 0."""
    n = len(embeddings)
    sizes = np.ones(n)
    sim = similarity(embeddings, embeddings).astype(np.float64)
    np.fill_diagonal(sim, -np.inf)
    owner = np.arange(n)
    while n > 1:
        i, j = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if sim[i, j] < threshold:
            break
        merged = (sim[i] * sizes[i] + sim[j] * sizes[j]) / (sizes[i] + sizes[j])
        sim[i], sim[:, i] = merged, merged
        sim[j], sim[:, j] = -np.inf, -np.inf
        sim[i, i] = -np.inf
        sizes[i] += sizes[j]
        owner[owner == j] = i
        n -= 1
    _, labels = np.unique(owner, return_inverse=True)
    return labels


def diarize(audio: np.ndarray, regions: Sequence[tuple[float, float]], embedder: Embedder) -> Diarization:
    """Speaker turns over the speech `regions` (seconds, in time order), and the speakers' voices."""
    if not regions:
        return Diarization([], {})
    mels = mel_power(audio)
    spans = [(int(start * SAMPLE_RATE) // HOP, max(int(end * SAMPLE_RATE) // HOP, int(start * SAMPLE_RATE) // HOP + 1))
             for start, end in regions]
    owners, starts = [], []
    for index, (first, last) in enumerate(spans):
        for s in _chunk_starts(first, min(last, len(mels))):
            owners.append(index)
            starts.append(min(s, max(0, len(mels) - CHUNK_FRAMES)))
    chunks = np.stack([_padded(mels, s) for s in starts])
    vectors = embedder.embed(chunks)
    labels = _relabel(_assign(vectors, cluster(vectors, embedder.threshold)))
    voices = {speaker_label(k): vectors[labels == k].mean(axis=0) for k in range(labels.max() + 1)}
    return Diarization(_turns(regions, owners, starts, labels), voices)


def speaker_label(index: int) -> str:
    return f"SPEAKER_{index:02d}"


def _padded(mels: np.ndarray, start: int) -> np.ndarray:
    piece = mels[start: start + CHUNK_FRAMES]
    return np.pad(piece, ((0, CHUNK_FRAMES - len(piece)), (0, 0)))


def _assign(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Reassign every chunk to the nearest centroid of a cluster holding MIN_SHARE of the chunks."""
    counts = np.bincount(labels)
    kept = [k for k in range(len(counts)) if counts[k] >= MIN_SHARE * len(labels)] or [int(np.argmax(counts))]
    centroids = np.stack([vectors[labels == k].mean(axis=0) for k in kept])
    return np.argmax(similarity(vectors, centroids), axis=1)


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Number the speakers in order of first appearance."""
    order = {int(label): n for n, label in enumerate(dict.fromkeys(labels.tolist()))}
    return np.array([order[int(label)] for label in labels])


def _turns(regions: Sequence[tuple[float, float]], owners: list[int], starts: list[int],
           labels: np.ndarray) -> list[Turn]:
    """Split each region where its chunks change speaker; a change shorter than MIN_TURN_SECONDS is ignored."""
    by_region: dict[int, list[tuple[float, int]]] = collections.defaultdict(list)
    for owner, frame, label in zip(owners, starts, labels):
        by_region[owner].append(((frame + CHUNK_FRAMES / 2) * HOP / SAMPLE_RATE, int(label)))
    turns: list[Turn] = []
    for index, (start, end) in enumerate(regions):
        pieces: list[list[float]] = []  # [start, end, label]
        chunks = by_region[index]
        for n, (centre, label) in enumerate(chunks):
            left = start if n == 0 else max(start, (chunks[n - 1][0] + centre) / 2)
            right = end if n == len(chunks) - 1 else min(end, (centre + chunks[n + 1][0]) / 2)
            if pieces and pieces[-1][2] == label:
                pieces[-1][1] = right
            else:
                pieces.append([left, right, label])
        pieces = _absorb_short(pieces)
        turns.extend(Turn(round(a, 3), round(b, 3), speaker_label(int(label))) for a, b, label in pieces if b > a)
    return turns


def _absorb_short(pieces: list[list[float]]) -> list[list[float]]:
    """Give a piece shorter than MIN_TURN_SECONDS to its longer neighbour, until none is left."""
    while len(pieces) > 1:
        lengths = [b - a for a, b, _ in pieces]
        n = int(np.argmin(lengths))
        if lengths[n] >= MIN_TURN_SECONDS:
            break
        if n == 0 or (n < len(pieces) - 1 and lengths[n + 1] > lengths[n - 1]):
            pieces[n + 1][0] = pieces[n][0]
        else:
            pieces[n - 1][1] = pieces[n][1]
        del pieces[n]
        merged: list[list[float]] = []
        for piece in pieces:
            if merged and merged[-1][2] == piece[2]:
                merged[-1][1] = piece[1]
            else:
                merged.append(piece)
        pieces = merged
    return pieces
