"""Who is speaking: a display name for every transcript speaker label, never "SPEAKER_01".

Names come only from data, never from the model (small models invent roles):
1. a transcript label that already is a name ("Alice Smith", "Hon. Bill Blair (Minister)" -> "Hon. Bill Blair");
2. a self-introduction in the speaker's first turns ("I'm Bob Lee from Acme");
3. the episode's `podcast:person` list, else names the description introduces ("with Bob Lee"):
   the label that opens the episode is the host, and with one guest and two voices the other is the guest;
4. otherwise "the host" for the opening voice and "a guest" for the others.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from podbrief.engines.llm import neutralize
from podbrief.extraction.passages import Segment

GENERIC = re.compile(r"^(?:speaker|spk|voice|person|unknown|guest|host|s)?[\s_#-]*(?:\d+|[a-z])?$", re.IGNORECASE)
_NAME = r"([A-Z][a-z]+(?:[ -][A-Z][a-z'-]+){0,2})"
INTRO = re.compile(r"\b(?:my name is|I'm|I am|this is)\s+" + _NAME)
DESCRIBED = re.compile(r"\b(?:with|guest|joined by|interview(?:s|ing)?|welcomes?|talks? to)\s+" + _NAME)
INTRO_TURNS = 3  # only early self-introductions count ("this is Paris" late in a talk is not a name)


def is_generic(label: str | None) -> bool:
    return label is None or bool(GENERIC.match(label.strip()))


def display(label: str) -> str:
    """A label without its parenthesised role: "Hon. Bill Blair (Minister of ...)" -> "Hon. Bill Blair"."""
    return re.sub(r"\s*\([^)]*\)", "", label).strip() or label.strip()


def name_speakers(segments: Sequence[Segment], episode: dict[str, Any] | None) -> dict[str | None, str]:
    """Map every speaker label in `segments` (None included) to the name insights use.

    Names go into prompts, so whitespace is collapsed and chat control tokens are defanged."""
    return {label: neutralize(" ".join(name.split())) for label, name in _names(segments, episode).items()}


def _names(segments: Sequence[Segment], episode: dict[str, Any] | None) -> dict[str | None, str]:
    episode = episode or {}
    persons = [p for p in episode.get("persons") or [] if isinstance(p, dict) and p.get("name")]
    hosts = [p["name"] for p in persons if str(p.get("role", "host")).lower() == "host"]
    guests = [p["name"] for p in persons if str(p.get("role", "")).lower() == "guest"]
    if not persons:
        guests = list(dict.fromkeys(DESCRIBED.findall(str(episode.get("description") or ""))))
    known = [p["name"] for p in persons] + guests

    order = list(dict.fromkeys(s.speaker for s in segments))
    names: dict[str | None, str] = {}
    for label in order:
        if not is_generic(label):
            names[label] = display(str(label))
        elif label is not None and (intro := _introduction(segments, label, known)):
            names[label] = intro
    unnamed = [label for label in order if label not in names]
    if order == [None]:
        names[None] = persons[0]["name"] if len(persons) == 1 else "a speaker"
        return names
    for label in unnamed:
        if label == order[0]:
            names[label] = hosts[0] if len(hosts) == 1 else "the host"
        elif len(guests) == 1 and len(order) == 2:
            names[label] = guests[0]
        else:
            names[label] = "a guest"
    return names


def _introduction(segments: Sequence[Segment], label: str, known: list[str]) -> str | None:
    turns = 0
    previous = None
    for segment in segments:
        if segment.speaker != previous:
            previous = segment.speaker
            turns += segment.speaker == label
        if segment.speaker != label:
            continue
        if turns > INTRO_TURNS:
            return None
        match = INTRO.search(segment.text)
        if match:
            name = match.group(1)
            full = [k for k in known if k.split()[0] == name.split()[0]]
            if len(full) == 1 and " " not in name:
                return full[0]
            if " " in name or name in known:
                return name
    return None
