"""Speaker names for a transcript, and the voiceprint memory that recognises a show's voices.

Every named speaker's voice (the mean of its diarization embeddings) is kept per show in
`<home>/voiceprints/<feed_id>.json`, so a recurring host or guest is named in later episodes
even when the feed names no one. Voiceprints are personal data: they never leave the data dir,
and `podbrief speakers` lists, renames and forgets them. A store that cannot be read is moved
aside to `<file>.corrupt` (kept for the user, never read again) and a new one is started.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from podbrief.engines.diarize import similarity
from podbrief.errors import InputError
from podbrief.extraction.speakers import ROLES, name_speakers
from podbrief.formats.documents import VOICEPRINTS
from podbrief.formats.transcripts import Segment
from podbrief.store import Paths, atomic_write_json, expect_schema, read_json, utcnow

SCHEMA = VOICEPRINTS.schema
# A voice is a remembered speaker's when its similarity to the voiceprint reaches this. Measured on
# synthetic voices: one voice across episodes >= 0.99 (mfcc) / 0.95 (voice-encoder); two voices at most
# 0.95 / 0.92 (docs/transcribe.md).
MATCH = {"mfcc": 0.97, "voice-encoder": 0.93}
MAX_WEIGHT = 20  # a voiceprint keeps adapting: new episodes count at least 1/20
log = logging.getLogger(__name__)


def store_dir(paths: Paths) -> Path:
    return paths.home / "voiceprints"


def load(path: Path) -> list[dict[str, Any]]:
    """The speakers in one show's store; a missing store is empty, a corrupt one is moved aside."""
    if not path.exists():
        return []
    try:
        data = expect_schema(read_json(path), SCHEMA, path, "voiceprint store")
        speakers = data["speakers"]
        if not all(isinstance(s, dict) and isinstance(s.get("name"), str) and isinstance(s.get("voice"), list)
                   for s in speakers):
            raise InputError(f"{path}: malformed speaker entry")
    except (InputError, KeyError, TypeError) as exc:
        log.warning("voiceprints: %s; moved aside to %s.corrupt and started anew", exc, path.name)
        path.replace(path.with_name(path.name + ".corrupt"))
        return []
    return speakers


def recognise(speakers: list[dict[str, Any]], model: str, voices: dict[str, np.ndarray]) -> dict[str, str]:
    """label -> name for the voices a stored voiceprint matches, each voiceprint and voice used once."""
    stored = [s for s in speakers if s.get("model") == model and len(s["voice"]) == _dims(voices)]
    if not stored or not voices:
        return {}
    labels = list(voices)
    scores = similarity(np.array([voices[label] for label in labels]), np.array([s["voice"] for s in stored]))
    found: dict[str, str] = {}
    for flat in np.argsort(scores, axis=None)[::-1]:
        i, j = np.unravel_index(flat, scores.shape)
        if scores[i, j] < MATCH.get(model, 1.0):
            break
        if labels[i] not in found and stored[j]["name"] not in found.values():
            found[labels[i]] = stored[j]["name"]
    return found


def _dims(voices: dict[str, np.ndarray]) -> int:
    return len(next(iter(voices.values()))) if voices else 0


def remember(speakers: list[dict[str, Any]], model: str, voices: dict[str, np.ndarray],
             names: dict[str, str]) -> list[dict[str, Any]]:
    """`speakers` with each named voice added, or averaged into the voiceprint of that name."""
    for label, name in names.items():
        if label not in voices:
            continue
        entry = next((s for s in speakers if s["name"] == name and s.get("model") == model), None)
        if entry is None:
            speakers.append({"name": name, "model": model, "voice": [round(float(x), 5) for x in voices[label]],
                             "episodes": 1, "updated": utcnow()})
            continue
        weight = min(entry["episodes"], MAX_WEIGHT)
        mean = (np.array(entry["voice"]) * weight + voices[label]) / (weight + 1)
        entry.update(voice=[round(float(x), 5) for x in mean], episodes=entry["episodes"] + 1, updated=utcnow())
    return speakers


def name_transcript(paths: Paths, doc: dict[str, Any], episode: dict[str, Any]) -> dict[str, Any]:
    """Put each segment's name in `speaker`, its raw label in `label`, and remember the named voices.

    A speaker whose name is uncertain keeps its label (extract then calls it "the host" or "a guest")."""
    voices = {label: np.array(voice, dtype=np.float32) for label, voice in (doc.get("voices") or {}).items()}
    model = (doc.get("model") or {}).get("speakers")
    path = store_dir(paths) / f"{episode['feed_id']}.json" if episode.get("feed_id") else None
    speakers = load(path) if path and model else []
    segments = [Segment(s["start"], s["end"], s["text"], s.get("label", s["speaker"])) for s in doc["segments"]]
    names = name_speakers(segments, episode, recognise(speakers, model, voices) if model else None)
    for segment, raw in zip(doc["segments"], segments):
        name = names[raw.speaker]
        segment["label"] = raw.speaker
        segment["speaker"] = raw.speaker if name in ROLES else name
    named = {label: name for label, name in names.items() if label is not None and name not in ROLES}
    if path and model and named.keys() & voices.keys():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, {"schema": SCHEMA, "feed_id": episode["feed_id"],
                                 "speakers": remember(speakers, model, voices, named)})
    return doc


def listing(paths: Paths) -> list[dict[str, Any]]:
    """Every stored voiceprint: show (feed id), name, model, episodes heard, last update."""
    rows = []
    for path in sorted(store_dir(paths).glob("*.json")):
        rows += [{"feed_id": path.stem, "name": s["name"], "model": s.get("model"), "episodes": s.get("episodes"),
                  "updated": s.get("updated")} for s in load(path)]
    return rows


def change(paths: Paths, name: str, new_name: str | None) -> int:
    """Rename (or, with `new_name` None, forget) the voiceprints called `name`; how many there were."""
    count = 0
    for path in sorted(store_dir(paths).glob("*.json")):
        speakers = load(path)
        changed = sum(s["name"] == name for s in speakers)
        kept = [s for s in speakers if s["name"] != name or new_name is not None]
        for speaker in kept:
            if speaker["name"] == name:
                speaker["name"] = new_name
        if changed:
            atomic_write_json(path, {"schema": SCHEMA, "feed_id": path.stem, "speakers": kept})
            count += changed
    if not count:
        raise InputError(f"no voiceprint named {name!r} (see `podbrief speakers`)")
    return count
