"""Find podcasts in public directories: the iTunes Search API (no key) and, with a key, Podcast Index.

Directory answers are untrusted input, like feeds. A result needs a title and an http(s)
feed URL; its text is reduced to one plain line of bounded length (no control or bidi
characters; rich never parses it as markup), and a result that fails is left out with a
note. A feed URL on a visibly private address (an IP literal, localhost) is left out
unless `network.allow_private`; subscribing fetches it through `net.Client`, which checks
the resolved address again. Only the configured endpoints themselves may be private
(a local mirror, the tests), as `email.host` may.

A name is a *clear match* when exactly one result's title equals it, ignoring case,
punctuation, a leading "the" and a trailing "podcast" ("lex fridman" matches "The Lex
Fridman Podcast"), or when the directories found a single show whose title and author
contain every word of it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from podbrief import render, subscriptions
from podbrief.config import Config
from podbrief.errors import ConfigError, NetworkError, PartialFailure, PodbriefError, UsageError
from podbrief.net import Client, HTTPStatusError, check_listed, check_url
from podbrief.store import Paths, short_hash

ITUNES = "iTunes"
PODCASTINDEX = "Podcast Index"
TOP = 5  # matches offered for an ambiguous name, and suggestions per topic
MAX_TEXT = 200  # characters of a title or author shown
MAX_URL = 2000
MAX_RETRY_WAIT = 10.0  # seconds: a 429 asking for a longer wait fails the search instead
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Show:
    """One podcast a directory proposes, validated."""

    id: str  # the feed ID podbrief gives it on subscribing (sha256(feed_url)[:16], as `podbrief feeds` shows)
    title: str
    author: str | None
    episodes: int | None  # where the directory knows it
    feed_url: str
    directory: str  # ITUNES or PODCASTINDEX

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Found:
    """What a search found: shows best first, without duplicates across directories."""

    query: str
    shows: list[Show] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # results left out, and why
    problems: list[str] = field(default_factory=list)  # directories that failed (the others' shows are here)

    def to_json(self) -> dict[str, Any]:
        return {"query": self.query, "shows": [show.to_json() for show in self.shows],
                "notes": self.notes, "problems": self.problems}

    def failure(self) -> PodbriefError | None:
        return _failure(self.problems)


@dataclass(frozen=True)
class _Endpoint:
    name: str
    url: str  # with the query
    headers: dict[str, str]
    results: Callable[[Any], list[Any]]  # the answer's list of results (NetworkError if it has none)
    fields: Callable[[dict[str, Any]], tuple[Any, Any, Any, Any]]  # a result's (title, author, episodes, feed URL)


def is_url(text: str) -> bool:
    """`podbrief add` takes a feed URL or a show's name: anything with a scheme is a URL."""
    return "://" in text


# --- the two directories -------------------------------------------------------------------


def _itunes_results(doc: Any) -> list[Any]:
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        raise NetworkError(f"{ITUNES}: unexpected answer (no list of results)")
    return doc["results"]


def _itunes_fields(result: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    return (result.get("collectionName") or result.get("trackName"), result.get("artistName"),
            result.get("trackCount"), result.get("feedUrl"))


def _podcastindex_results(doc: Any) -> list[Any]:
    if isinstance(doc, dict) and doc.get("status") in ("false", False):
        raise NetworkError(f"{PODCASTINDEX}: {render.clean(doc.get('description'))[:MAX_TEXT] or 'refused the search'}")
    if not isinstance(doc, dict) or not isinstance(doc.get("feeds"), list):
        raise NetworkError(f"{PODCASTINDEX}: unexpected answer (no list of feeds)")
    return doc["feeds"]


def _podcastindex_fields(feed: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    return feed.get("title"), feed.get("author") or feed.get("ownerName"), feed.get("episodeCount"), feed.get("url")


def _podcastindex_headers(key: str, secret: str, now: int) -> dict[str, str]:
    """The API's documented auth: X-Auth-Key, X-Auth-Date (unix time) and sha1(key + secret + date)."""
    date = str(now)
    return {"X-Auth-Key": key, "X-Auth-Date": date,
            "Authorization": hashlib.sha1((key + secret + date).encode("utf-8")).hexdigest()}


def _endpoint_url(config: Config, key: str, **params: object) -> str:
    base = config["directory"][key]
    try:
        check_url(base)
    except NetworkError:
        raise ConfigError(f"directory.{key}: expected an http(s) URL, got {base!r}") from None
    return base + ("&" if urlsplit(base).query else "?") + urlencode(params)


def _endpoints(config: Config, terms: str) -> list[_Endpoint]:
    settings = config["directory"]
    limit = max(1, settings["limit"])
    endpoints = []
    if settings["itunes_url"]:
        url = _endpoint_url(config, "itunes_url", term=terms, media="podcast", entity="podcast", limit=limit)
        endpoints.append(_Endpoint(ITUNES, url, {}, _itunes_results, _itunes_fields))
    key, secret = settings["podcastindex_key"], settings["podcastindex_secret"]
    if bool(key) != bool(secret):
        raise ConfigError("directory.podcastindex_key and directory.podcastindex_secret go together: set both or neither")
    if key and settings["podcastindex_url"]:
        url = _endpoint_url(config, "podcastindex_url", q=terms, max=limit)
        endpoints.append(_Endpoint(PODCASTINDEX, url, _podcastindex_headers(key, secret, int(time.time())),
                                   _podcastindex_results, _podcastindex_fields))
    if not endpoints:
        raise ConfigError("no podcast directory to search: set directory.itunes_url, "
                          "or directory.podcastindex_key and _secret")
    return endpoints


# --- asking and validating -----------------------------------------------------------------


def _retry_after(value: str | None) -> float | None:
    """The seconds a Retry-After header asks for (a number or an HTTP date), or None if it says nothing usable."""
    value = (value or "").strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _get(client: Client, endpoint: _Endpoint, retry: bool = True) -> bytes:
    """The answer's body; after a 429 with a Retry-After of at most MAX_RETRY_WAIT seconds, one more try."""
    try:
        return client.get(endpoint.url, what="directory answer", headers=endpoint.headers, configured=True).body
    except HTTPStatusError as exc:
        if exc.status != 429:
            raise
        wait = _retry_after(exc.retry_after)
        if not retry or wait is None or wait > MAX_RETRY_WAIT:
            later = f"in {wait:.0f} s" if wait is not None else "later"
            raise NetworkError(f"{exc} (rate-limited: try again {later})") from None
    time.sleep(wait)
    return _get(client, endpoint, retry=False)


def _decode(endpoint: _Endpoint, body: bytes) -> list[Any]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; RecursionError: absurd nesting
        start = render.clean(body[:40].decode("utf-8", "replace"))
        raise NetworkError(f"{endpoint.name}: the answer is not JSON (it starts {start!r})") from None
    return endpoint.results(doc)


def _text(value: Any) -> str | None:
    """One plain line of at most MAX_TEXT characters, or None."""
    if not isinstance(value, str):
        return None
    text = render.clean(_BIDI.sub("", value))
    return (text[:MAX_TEXT - 1] + "…" if len(text) > MAX_TEXT else text) or None


def _show(endpoint: _Endpoint, result: Any, allow_private: bool) -> Show:
    """A validated Show from one raw result; ValueError (the reason) if it is unusable."""
    if not isinstance(result, dict):
        raise ValueError("not an object")
    raw_title, author, episodes, feed_url = endpoint.fields(result)
    title = _text(raw_title)
    if title is None:
        raise ValueError("no title")
    unusable = ValueError("no usable feed URL")
    if not isinstance(feed_url, str) or len(feed_url) > MAX_URL or render.safe_url(feed_url) is None:
        raise unusable
    try:
        check_url(feed_url)  # e.g. a port out of range
    except NetworkError:
        raise unusable from None
    try:
        check_listed(feed_url, allow_private)
    except NetworkError:
        raise ValueError("feed URL on a private address") from None
    count = episodes if isinstance(episodes, int) and not isinstance(episodes, bool) and episodes >= 0 else None
    return Show(short_hash(feed_url), title, _text(author), count, feed_url, endpoint.name)


def _same_feed(url: str) -> tuple[str, str, str]:
    """What two directories' URLs for one feed share: http and https, host case and a trailing / aside."""
    parts = urlsplit(url)
    return (parts.netloc.lower(), parts.path.rstrip("/"), parts.query)


def _add(found: Found, endpoint: _Endpoint, results: list[Any], allow_private: bool) -> None:
    seen = {_same_feed(show.feed_url) for show in found.shows}
    skipped: dict[str, int] = {}
    for result in results:
        try:
            show = _show(endpoint, result, allow_private)
        except ValueError as exc:
            skipped[str(exc)] = skipped.get(str(exc), 0) + 1
            continue
        if _same_feed(show.feed_url) not in seen:
            seen.add(_same_feed(show.feed_url))
            found.shows.append(show)
    found.notes += [f"{endpoint.name}: left out {count} result(s): {reason}" for reason, count in skipped.items()]


def search(config: Config, terms: str) -> Found:
    """Ask every configured directory for `terms` (iTunes first). NetworkError only when all of them fail."""
    terms = " ".join(terms.split())
    if not terms:
        raise UsageError("give the words to search for")
    found = Found(terms)
    endpoints = _endpoints(config, terms)
    allow_private = bool(config["network"]["allow_private"])
    with Client(config) as client:
        for endpoint in endpoints:
            try:
                results = _decode(endpoint, _get(client, endpoint))
            except NetworkError as exc:
                found.problems.append(str(exc))
                continue
            _add(found, endpoint, results, allow_private)
    if len(found.problems) == len(endpoints):
        raise NetworkError("; ".join(found.problems))
    return found


# --- add "name", suggest -------------------------------------------------------------------


def _words(text: str) -> list[str]:
    """Lower-case words without punctuation, a leading "the" or a trailing "podcast"."""
    words = re.sub(r"[\W_]+", " ", text.casefold()).split()
    if words[:1] == ["the"]:
        words = words[1:]
    if words[-1:] == ["podcast"]:
        words = words[:-1]
    return words


def clear_match(query: str, shows: list[Show]) -> Show | None:
    """The one show `query` clearly names (see the module docstring), or None."""
    wanted = _words(query)
    exact = [show for show in shows if _words(show.title) == wanted]
    if len(exact) == 1:
        return exact[0]
    if len(shows) == 1 and set(wanted) <= set(_words(f"{shows[0].title} {shows[0].author or ''}")):
        return shows[0]
    return None


def pick(found: Found, choose: Callable[[list[Show]], Show | None] | None) -> Show:
    """The show to subscribe to: the clear match, else `choose`'s pick among the top matches.

    Without `choose` (no terminal to ask on) an ambiguous name is a UsageError listing them.
    """
    if not found.shows:
        why = f" ({'; '.join(found.notes)})" if found.notes else ""
        raise UsageError(f"no podcast in the directories matches {found.query!r}{why}: "
                         "try other words, or `podbrief add FEED_URL`")
    match = clear_match(found.query, found.shows)
    if match is not None:
        return match
    top = found.shows[:TOP]
    if choose is None:
        listing = "; ".join(f"{show.title}{f' ({show.author})' if show.author else ''}: {show.feed_url}"
                            for show in top)
        raise UsageError(f"{found.query!r} matches {len(found.shows)} shows; run `podbrief add FEED_URL` "
                         f"with one of: {listing}")
    chosen = choose(top)
    if chosen is None:
        raise UsageError("no show chosen: nothing subscribed")
    return chosen


@dataclass
class Suggestions:
    """Shows for each `rank.interests` topic (in the config's order), none already followed or repeated."""

    topics: list[tuple[str, list[Show]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"topics": [{"topic": topic, "shows": [show.to_json() for show in shows]}
                           for topic, shows in self.topics], "problems": self.problems}

    def failure(self) -> PodbriefError | None:
        return _failure(self.problems)


def _failure(problems: list[str]) -> PodbriefError | None:
    """Some directory searches failed (each is listed as a warning; when all fail, NetworkError is raised instead)."""
    return PartialFailure(f"{len(problems)} directory search(es) failed") if problems else None


def suggest(paths: Paths, config: Config) -> Suggestions:
    """One directory search per interest topic; subscribes to nothing. NetworkError only when every search fails."""
    interests = config["rank"]["interests"]
    if not interests:
        raise UsageError("no topics to suggest shows for: set rank.interests in the config, e.g. {ai: 2.0}")
    records = subscriptions.records(paths)
    followed_ids = {record["id"] for record in records}  # the URL each was added with, even if it moved since
    known = {_same_feed(record["url"]) for record in records}  # followed or suggested already
    suggestions = Suggestions()
    for topic in map(str, interests):
        try:
            found = search(config, topic)
        except NetworkError as exc:
            suggestions.problems.append(f"{topic}: {exc}")
            continue
        suggestions.problems += [f"{topic}: {problem}" for problem in found.problems]
        fresh = [show for show in found.shows
                 if show.id not in followed_ids and _same_feed(show.feed_url) not in known][:TOP]
        known.update(_same_feed(show.feed_url) for show in fresh)
        suggestions.topics.append((topic, fresh))
    if not suggestions.topics:
        raise NetworkError("; ".join(suggestions.problems))
    return suggestions
