"""Every kind of file podbrief writes: its file name and schema id, in one place.

Readers and writers live with their format (formats/transcripts.py, formats/insights.py,
briefs.py, ...); paths come from `store.Paths` (`Paths.episode_file(episode_id, kind)`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    file: str  # the file name in its directory ("" when the name varies: one file per feed, per day)
    schema: str


# Per episode, in episodes/<episode id>/ (plus the audio and the publisher transcript as downloaded).
EPISODE = Kind("episode.json", "podbrief.episode/1")
TRANSCRIPT = Kind("transcript.json", "podbrief.transcript/1")
INSIGHTS = Kind("insights.json", "podbrief.insights/1")
CHAPTERS_FILE = "chapters.json"  # Podcasting 2.0 JSON chapters, stored as the publisher serves them
PUBLISHER_TRANSCRIPT_STEM = "publisher-transcript"  # + the format's suffix: publisher-transcript.vtt
AUDIO_STEM = "audio"  # + the suffix its media type allows: audio.mp3

# One per feed, day or home.
FEED = Kind("", "podbrief.feed/1")  # feeds/<feed id>.json
BRIEF = Kind("", "podbrief.brief/1")  # briefs/<YYYY-MM-DD>.json
RATINGS = Kind("ratings.json", "podbrief.ratings/1")
VOICEPRINTS = Kind("", "podbrief.voiceprints/1")  # voiceprints/<feed id>.json


def is_episode_file(name: str) -> bool:
    """Whether `name` is one of the files of an episode directory that is not its insights."""
    return name in {EPISODE.file, TRANSCRIPT.file, CHAPTERS_FILE} or name.startswith(PUBLISHER_TRANSCRIPT_STEM + ".")
