"""Parse podcast feed bytes into a show and its episodes.

feedparser does the forgiving RSS/Atom work, always from bytes we downloaded,
wrapped in a file object (handed a string, or even bytes that look like a path,
feedparser opens URLs and local files itself). Before it runs,
defusedxml parses the same bytes: a feed that declares XML entities (billion
laughs, external entities) is refused, and a well-formed feed's tree gives the
Podcasting 2.0 tags feedparser flattens (every `podcast:person`,
`podcast:transcript` and `podcast:chapters` with their attributes).

Malformed ("bozo") feeds: use what parsed and warn once. Their Podcasting 2.0
data then comes from feedparser's flattened view (one transcript and chapters
link per episode, no persons).
"""

from __future__ import annotations

import calendar
import io
import re
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_xml
import feedparser
from defusedxml import DefusedXmlException

from podbrief.errors import InputError

PODCAST_NAMESPACES = {
    "https://podcastindex.org/namespace/1.0",
    "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md",
}
ITEM_TAGS = {"item", "{http://purl.org/rss/1.0/}item", "{http://www.w3.org/2005/Atom}entry"}
CHANNEL_TAGS = {"channel", "{http://purl.org/rss/1.0/}channel"}
# A feed is read up to its MAX_ITEMS-th item (feeds list the newest first): 100,000 items took
# 42 s and 476 MB per poll, 5,000 (more than any real show has) take about 2 s.
MAX_ITEMS = 5000
_ITEM_START = re.compile(rb"<(?:item|entry)[\s>/]")
EARLIEST_YEAR = 1970  # an earlier pubDate is a placeholder or a typo: the episode counts as undated


@dataclass
class Episode:
    key: str  # stable identity: GUID, else enclosure URL, else title + published
    guid: str | None
    title: str
    link: str | None
    published: str | None  # ISO 8601 UTC
    duration: float | None  # seconds
    enclosure: dict[str, Any] | None  # {"url", "type", "length"}
    description: str  # show notes as plain text
    persons: list[dict[str, str]] = field(default_factory=list)  # [{"name", "role"}]
    transcripts: list[dict[str, str | None]] = field(default_factory=list)  # [{"url", "type", "language"}]
    chapters: dict[str, str | None] | None = None  # {"url", "type"}


@dataclass
class Feed:
    title: str
    link: str | None
    new_feed_url: str | None  # itunes:new-feed-url: the publisher moved the feed
    episodes: list[Episode]
    warnings: list[str]  # one line each: malformed XML, duplicate GUIDs, episodes without media


def parse(data: bytes, url: str) -> Feed:
    """Parse downloaded feed bytes; `url` only names the feed in messages.

    Raises InputError for a body that is not a feed at all or declares XML entities.
    """
    data = data.lstrip()
    if not data:
        raise InputError(f"{url}: empty response, not a feed")
    data, total = _first_items(data)
    tree = _strict_tree(data, url)
    parsed = feedparser.parse(io.BytesIO(data), sanitize_html=True, resolve_relative_uris=False)
    if not parsed.get("version") and not parsed.entries:
        raise InputError(f"{url}: not an RSS or Atom feed ({_sniff(data)})")
    warnings = [f"the feed lists {total} items; reading the first {MAX_ITEMS}"] if total > MAX_ITEMS else []
    if parsed.bozo:
        warnings.append(f"feed is malformed ({parsed.bozo_exception}); using what could be parsed")
    extras = _podcast_tags(tree, len(parsed.entries)) if tree is not None else None
    episodes: list[Episode] = []
    seen: set[str] = set()
    duplicates = without_media = 0
    for position, entry in enumerate(parsed.entries):
        episode = _episode(entry)
        if extras is not None:
            episode.persons, episode.transcripts, episode.chapters = extras[position]
        else:
            episode.transcripts, episode.chapters = _flattened_podcast_tags(entry)
        if episode.key in seen:
            duplicates += 1
            continue
        seen.add(episode.key)
        if episode.enclosure is None and not episode.transcripts:
            without_media += 1
            continue
        episodes.append(episode)
    if duplicates:
        warnings.append(f"{duplicates} episode(s) repeat an earlier GUID; kept the first of each")
    if without_media:
        warnings.append(f"{without_media} episode(s) have neither audio nor a transcript; skipped")
    feed_info = parsed.feed
    return Feed(
        title=_clean(feed_info.get("title", "")) or url,
        link=feed_info.get("link") or None,
        new_feed_url=(feed_info.get("itunes_new-feed-url") or "").strip() or None,
        episodes=episodes,
        warnings=warnings,
    )


def _first_items(data: bytes) -> tuple[bytes, int]:
    """The document without its items after the MAX_ITEMS-th (what follows the last item is kept, so it
    stays well-formed), and how many items it has. Items are found by their start tags, so an "<item"
    inside CDATA is counted too: harmless in a feed this long."""
    starts = [match.start() for match in _ITEM_START.finditer(data)]
    tail = max(data.rfind(b"</item>") + len(b"</item>"), data.rfind(b"</entry>") + len(b"</entry>"))
    if len(starts) <= MAX_ITEMS or tail < starts[MAX_ITEMS]:
        return data, len(starts)
    return data[:starts[MAX_ITEMS]] + data[tail:], len(starts)


def _strict_tree(data: bytes, url: str) -> Element | None:
    """The defused XML tree, or None if the document is not well-formed. Entity declarations are refused."""
    try:
        return safe_xml.fromstring(data)
    except DefusedXmlException as exc:
        raise InputError(f"{url}: refused: the feed declares XML entities ({type(exc).__name__}), "
                         "as entity-expansion and external-entity attacks do") from None
    except ParseError:
        return None
    except LookupError as exc:  # expat does not know the declared encoding
        raise InputError(f"{url}: not a readable feed ({exc})") from None


def _sniff(data: bytes) -> str:
    head = data[:512].lower()
    if head.startswith(b"%pdf"):
        return "it is a PDF document"
    if b"<html" in head or b"<!doctype html" in head:
        return "it is an HTML page"
    return "no feed found in the response"


def _episode(entry: Any) -> Episode:
    title = _clean(entry.get("title", "")) or "Untitled episode"
    published = _iso(entry.get("published_parsed") or entry.get("updated_parsed"))
    enclosure = _enclosure(entry)
    guid = (entry.get("id") or "").strip() or None
    key = guid or (enclosure["url"] if enclosure else f"{title}\0{published or ''}")
    return Episode(
        key=key,
        guid=guid,
        title=title,
        link=entry.get("link") or None,
        published=published,
        duration=parse_duration(entry.get("itunes_duration")),
        enclosure=enclosure,
        description=_show_notes(entry),
    )


def _enclosure(entry: Any) -> dict[str, Any] | None:
    """The first audio/video enclosure (else the first enclosure of any type)."""
    enclosures = [e for e in entry.get("enclosures", []) if e.get("href")]
    media = [e for e in enclosures if e.get("type", "").startswith(("audio/", "video/"))]
    chosen = (media or enclosures or [None])[0]
    if chosen is None:
        return None
    length = str(chosen.get("length", "")).strip()
    return {"url": chosen["href"].strip(), "type": chosen.get("type") or None,
            "length": int(length) if length.isdigit() else None}


def _iso(value: time.struct_time | None) -> str | None:
    """An ISO 8601 UTC stamp; None for a date before EARLIEST_YEAR ("Mon, 01 Jan 0001" is no publication date)."""
    if not value or value.tm_year < EARLIEST_YEAR:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(calendar.timegm(value)))


def parse_duration(value: str | None) -> float | None:
    """itunes:duration as seconds: "4385", "07:00", "1:05:20" or "3600.5"; None if unreadable."""
    if not value:
        return None
    seconds = 0.0
    try:
        for part in value.strip().split(":"):
            seconds = seconds * 60 + float(part)
    except ValueError:
        return None
    return seconds if seconds > 0 else None


def _show_notes(entry: Any) -> str:
    """The longest of content:encoded and the summary, as plain text."""
    candidates = [*entry.get("content", []), entry.get("summary_detail")]
    best = max((c for c in candidates if c and c.get("value")), key=lambda c: len(c["value"]), default=None)
    if best is None:
        return ""
    if "html" in (best.get("type") or ""):
        return html_to_text(best["value"])
    return _clean(best["value"], keep_lines=True)


def _clean(text: str, keep_lines: bool = False) -> str:
    """Collapse whitespace (keeping paragraph breaks when `keep_lines`)."""
    if not keep_lines:
        return " ".join(text.split())
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


BLOCK_TAGS = frozenset({"p", "div", "br", "li", "ul", "ol", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
                        "pre"})


class _TextExtractor(HTMLParser):
    """Text of an HTML fragment, with a line break around each block element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return _clean("".join(parser.parts), keep_lines=True)


# --- Podcasting 2.0 tags -------------------------------------------------------------------

PodcastTags = tuple[list[dict[str, str]], list[dict[str, str | None]], dict[str, str | None] | None]


def _podcast_children(element: Element, name: str) -> list[Element]:
    return [child for child in element
            if child.tag.startswith("{") and child.tag[1:].partition("}")[::2] in
            {(ns, name) for ns in PODCAST_NAMESPACES}]


def _persons(element: Element) -> list[dict[str, str]]:
    persons: list[dict[str, str]] = []
    for tag in _podcast_children(element, "person"):
        person = {"name": _clean(tag.text or ""), "role": (tag.get("role") or "host").strip().lower()}
        if person["name"] and person not in persons:
            persons.append(person)
    return persons


def _podcast_tags(root: Element, entries: int) -> list[PodcastTags] | None:
    """Per item, in document order: persons (the channel's if the item names none), transcripts, chapters.

    None if the tree's items cannot be matched one-to-one with feedparser's entries.
    """
    items = [element for element in root.iter() if element.tag in ITEM_TAGS]
    if len(items) != entries:
        return None
    channel = next((element for element in root if element.tag in CHANNEL_TAGS), root)
    channel_persons = _persons(channel)
    tags: list[PodcastTags] = []
    for item in items:
        transcripts = [{"url": t.get("url", "").strip(), "type": (t.get("type") or "").strip().lower() or None,
                        "language": t.get("language") or None}
                       for t in _podcast_children(item, "transcript") if t.get("url", "").strip()]
        chapters = next(({"url": c.get("url", "").strip(), "type": c.get("type") or None}
                         for c in _podcast_children(item, "chapters") if c.get("url", "").strip()), None)
        tags.append((_persons(item) or channel_persons, transcripts, chapters))
    return tags


def _flattened_podcast_tags(entry: Any) -> tuple[list[dict[str, str | None]], dict[str, str | None] | None]:
    """Transcript and chapters links from feedparser's one-per-name view of unknown tags (malformed feeds)."""
    transcript = entry.get("podcast_transcript")
    chapters = entry.get("podcast_chapters")
    transcripts = []
    if isinstance(transcript, dict) and transcript.get("url"):
        transcripts.append({"url": transcript["url"].strip(), "type": (transcript.get("type") or "").lower() or None,
                            "language": transcript.get("language") or None})
    if not (isinstance(chapters, dict) and chapters.get("url")):
        return transcripts, None
    return transcripts, {"url": chapters["url"].strip(), "type": chapters.get("type") or None}
