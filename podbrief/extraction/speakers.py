"""Who is speaking: a display name for every transcript speaker label, never "SPEAKER_01".

Names come only from data, never from the model (small models invent roles), strongest first:
1. a transcript label that already is a name ("Alice Smith", "Hon. Bill Blair (Minister)" -> "Hon. Bill Blair");
2. a voiceprint the show's memory recognised (`podbrief.voiceprints`, passed in as `known`);
3. what is said: a self-introduction in the speaker's first turns ("I'm Bob Lee from Acme"), the
   next speaker after a hand-over ("Welcome, Bob", "Bob, go ahead"), the previous one after a
   thank-you ("Thanks, Bob"); a first name becomes the full name when one listed person has it;
4. the episode's `podcast:person` list, else the names the title and description introduce
   ("with Bob Lee", "Bob Lee joins us"): the voice that opens the episode is the host, and with
   one voice per person the one voice left unnamed is the one person left (with one guest and two
   voices, the other is the guest; beyond two voices only for a `podcast:person` list); with fewer
   voices than listed people (diarization merged some) no voice is named by its role;
5. otherwise "the host" for the opening voice and "a guest" for the others (`ROLES`).
A name claimed for two voices goes to the one with more evidence; the other stays unnamed
rather than risk a wrong name.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from podbrief.extraction.untrusted import neutralize
from podbrief.formats.transcripts import Segment

GENERIC = re.compile(r"^(?:speaker|spk|voice|person|unknown|guest|host|s)?[\s_#-]*(?:\d+|[a-z])?$", re.IGNORECASE)
_NAME = r"([A-Z][a-z]+(?:[ -][A-Z][a-z'-]+){0,2})"
INTRO = re.compile(r"\b(?:[Mm]y name is|I'm|I am|[Tt]his is)\s+" + _NAME)
DESCRIBED = re.compile(r"\b(?:with|guest|joined by|interview(?:s|ing)?|welcomes?|talks? to)\s+" + _NAME)
JOINS = re.compile(_NAME + r"\s+(?:joins|is joining|is here)\b")
# The host hands over to the next voice (in a turn's first or last words), or thanks the previous one
# (in its first words).
HANDOVER = re.compile(r"\b(?:[Ww]elcome(?: to the show| back)?|[Oo]ver to you|[Gg]o ahead),\s+" + _NAME
                      + r"|\b" + _NAME + r",\s+(?:welcome|go ahead|over to you|the floor is yours|your question)\b")
THANKS = re.compile(r"^\W*(?:[Tt]hanks|[Tt]hank you)(?: so much| very much)?,?\s+" + _NAME
                    + r"|^\W*" + _NAME + r",\s+thank(?:s| you)\b")
# Capitalised words a hand-over or a thank-you addresses that are not a person's name.
NOT_NAMES = {"Mr", "Mrs", "Ms", "Dr", "Madam", "Sir", "Speaker", "Chair", "Everyone", "Everybody", "All", "Guys",
             "Folks", "Today", "Again", "So", "And", "For", "To", "The", "You", "God", "Both", "Back"}
HOST, GUEST, SPEAKER = "the host", "a guest", "a speaker"
ROLES = (HOST, GUEST, SPEAKER)  # what a voice is called when its name is not known
GENERIC_NAME = re.compile(r"^(?:the|a|an) (?:host|guest|speaker)$", re.IGNORECASE)  # a role (ROLES), not a name
INTRO_TURNS = 3  # only early self-introductions count ("this is Paris" late in a talk is not a name)
EDGE_WORDS = 12  # how near a turn's start (or end) a hand-over or a thank-you must be


def is_generic(label: str | None) -> bool:
    return label is None or bool(GENERIC.match(label.strip()))


def display(label: str) -> str:
    """A label without its parenthesised role: "Hon. Bill Blair (Minister of ...)" -> "Hon. Bill Blair"."""
    return re.sub(r"\s*\([^)]*\)", "", label).strip() or label.strip()


def name_speakers(segments: Sequence[Segment], episode: dict[str, Any] | None,
                  known: Mapping[str, str] | None = None) -> dict[str | None, str]:
    """Map every speaker label in `segments` (None included) to the name insights use.

    `known` maps labels to names a voiceprint memory recognised. Names go into prompts, so
    whitespace is collapsed and chat control tokens are defanged."""
    return {label: neutralize(" ".join(name.split())) for label, name in _names(segments, episode, known).items()}


def feed_people(episode: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(hosts, guests) the feed names: `podcast:person` roles, else who the title and description introduce."""
    persons = [p for p in episode.get("persons") or [] if isinstance(p, dict) and p.get("name")]
    if persons:
        hosts = [p["name"] for p in persons if str(p.get("role", "host")).lower() == "host"]
        return hosts, [p["name"] for p in persons if str(p.get("role", "")).lower() == "guest"]
    text = f"{episode.get('title') or ''}. {episode.get('description') or ''}"
    return [], list(dict.fromkeys(DESCRIBED.findall(text) + JOINS.findall(text)))


def _names(segments: Sequence[Segment], episode: dict[str, Any] | None,
           known: Mapping[str, str] | None) -> dict[str | None, str]:
    episode = episode or {}
    hosts, guests = feed_people(episode)
    people = hosts + guests
    order = list(dict.fromkeys(s.speaker for s in segments))
    names: dict[str | None, str] = {}
    for label in order:
        if not is_generic(label):
            names[label] = display(str(label))
        elif label is not None and known and label in known:
            names[label] = known[label]
    if order == [None]:
        persons = [p for p in episode.get("persons") or [] if isinstance(p, dict) and p.get("name")]
        names[None] = persons[0]["name"] if len(persons) == 1 else SPEAKER
        return names
    names.update(_spoken(segments, people, taken=set(names.values()), named=set(names)))
    # Fewer voices than listed people: diarization merged some, so no voice's role is certain.
    merged = len(order) < len(people)
    for label in order:
        if label in names:
            continue
        taken = set(names.values())
        if merged:
            names[label] = HOST if label == order[0] else GUEST
        elif label == order[0] and len(hosts) == 1 and hosts[0] not in taken:
            names[label] = hosts[0]
        elif label == order[0]:
            names[label] = HOST
        elif _the_one_left(label, order, names, hosts, guests, episode) \
                and len(left := [p for p in people if p not in taken]) == 1:
            names[label] = left[0]
        else:
            names[label] = GUEST
    return names


def _the_one_left(label: str | None, order: list[str | None], names: dict[str | None, str], hosts: list[str],
                  guests: list[str], episode: dict[str, Any]) -> bool:
    """Whether `label` is the one voice not yet named when there is one voice per person: the listed hosts and
    guests, or, with no host listed, the guests and the opening voice taken as "the host". Beyond two voices only
    for `podcast:person` lists (a name the description mentions need not speak)."""
    if not hosts and names.get(order[0]) != HOST:
        return False  # the opener was named otherwise (a guest's cold open): who hosts is not known
    if len(order) > 2 and not episode.get("persons"):
        return False
    return len(order) == len(guests) + max(len(hosts), 1) and [v for v in order if v not in names] == [label]


def _spoken(segments: Sequence[Segment], people: list[str], taken: set[str],
            named: set[str | None]) -> dict[str | None, str]:
    """Names from what is said: each clue is a vote for a label; the name goes to the label with most votes."""
    turns = _turns(segments)
    votes: dict[str | None, Counter[str]] = defaultdict(Counter)
    seen: Counter[str | None] = Counter()
    for n, (label, text) in enumerate(turns):
        seen[label] += 1
        words = text.split()
        opening, closing = " ".join(words[:EDGE_WORDS]), " ".join(words[-EDGE_WORDS:])
        if seen[label] <= INTRO_TURNS and (match := INTRO.search(text)):
            _vote(votes, label, match.group(1), people, allow_first_name=False)
        if (match := HANDOVER.search(opening) or HANDOVER.search(closing)) and n + 1 < len(turns):
            _vote(votes, turns[n + 1][0], match.group(1) or match.group(2), people)
        if (match := THANKS.search(opening)) and n > 0:
            _vote(votes, turns[n - 1][0], match.group(1) or match.group(2), people)
    claims: dict[str, tuple[int, str | None]] = {}
    for label, counter in votes.items():
        if label is None or label in named:
            continue
        (name, count), *rest = counter.most_common()
        if rest and rest[0][1] == count:
            continue  # two names for one voice: no name
        if name not in claims or claims[name][0] < count:
            claims[name] = (count, label)
    return {label: name for name, (_, label) in claims.items() if name not in taken}


def _turns(segments: Sequence[Segment]) -> list[tuple[str | None, str]]:
    """Consecutive segments of one label joined: (label, text)."""
    turns: list[tuple[str | None, str]] = []
    for segment in segments:
        if turns and turns[-1][0] == segment.speaker:
            turns[-1] = (segment.speaker, f"{turns[-1][1]} {segment.text}")
        else:
            turns.append((segment.speaker, segment.text))
    return turns


def _vote(votes: dict[str | None, Counter[str]], label: str | None, said: str, people: list[str],
          allow_first_name: bool = True) -> None:
    """Count `said` as a clue for `label`, as the listed person it names when it names exactly one."""
    first = said.split()[0]
    if first in NOT_NAMES:
        return
    full = [p for p in people if p.split()[0] == first or p == said]
    if len(full) == 1 and (" " not in said or said == full[0]):
        votes[label][full[0]] += 1
    elif " " in said or said in people or (allow_first_name and not people):
        votes[label][said] += 1
