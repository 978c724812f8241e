"""Subscriptions: one `feeds/<feed id>.json` each (schema podbrief.feed/1), mirrored in the index.
`podbrief add`, `remove`, `feeds`, `import` and `export` work here; the fetch stage polls them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from podbrief.config import Config
from podbrief.errors import InputError, NetworkError, UsageError
from podbrief.formats import feed as feedformat
from podbrief.formats.documents import FEED
from podbrief.formats.opml import Outline
from podbrief.net import Client, check_url
from podbrief.store import Index, Paths, atomic_write_json, expect_schema, read_json, short_hash, utcnow


def records(paths: Paths) -> list[dict[str, Any]]:
    """Every subscription record, oldest first; a file that is not one is an InputError naming it."""
    records = [_subscription(path) for path in sorted(paths.feeds_dir.glob("*.json"))]
    return sorted(records, key=lambda record: (record["added_at"], record["id"]))


def _subscription(path: Path) -> dict[str, Any]:
    record = expect_schema(read_json(path), FEED.schema, path, "podbrief subscription")
    missing = [key for key, value in _new_record("", None, None).items() if key not in record]
    if missing:
        raise InputError(f"{path}: corrupt subscription (no {', '.join(missing)}); remove the file or fix it")
    return record


def matches(record: dict[str, Any], ref: str) -> bool:
    """`ref` is the feed's ID, its current URL or the URL it was added with."""
    return ref in (record["id"], record["url"]) or short_hash(ref) == record["id"]


def find_feed(paths: Paths, ref: str) -> dict[str, Any]:
    for record in records(paths):
        if matches(record, ref):
            return record
    raise UsageError(f"no subscription matches {ref!r} (see `podbrief feeds`)")


def feed_summaries(paths: Paths) -> list[dict[str, Any]]:
    """Subscriptions for display: the record (without the seen-episode list) plus episode counts."""
    summaries = []
    with Index(paths) as index:
        for record in records(paths):
            episodes = index.episodes(record["id"])
            summary = {key: value for key, value in record.items() if key not in ("schema", "seen")}
            summary["episodes"] = len(episodes)
            summary["fetched"] = sum(1 for row in episodes if row["fetched_at"])
            summaries.append(summary)
    return summaries


def _new_record(url: str, name: str | None, title: str | None) -> dict[str, Any]:
    return {"schema": FEED.schema, "id": short_hash(url), "url": url, "name": name, "title": title,
            "added_at": utcnow(), "etag": None, "last_modified": None, "last_checked": None,
            "last_status": None, "error": None, "parsed_at": None, "seen": []}


def save(paths: Paths, index: Index, record: dict[str, Any]) -> None:
    atomic_write_json(paths.feed_file(record["id"]), record)
    index.upsert_feed(record)


def subscribe(paths: Paths, config: Config, url: str, name: str | None = None) -> dict[str, Any]:
    """Check that `url` serves a podcast feed, then subscribe to it. Episodes come with the next fetch."""
    url = url.strip()
    if not url:
        raise UsageError("the feed URL is empty")
    check_url(url)
    if any(matches(record, url) for record in records(paths)):
        raise UsageError(f"already subscribed to {url}")
    with Client(config) as client:
        fetched = client.get(url)
    parsed = feedformat.parse(fetched.body, url)
    record = _new_record(url, name, parsed.title)
    if fetched.moved_to:
        record["url"] = fetched.moved_to
    with Index(paths) as index:
        save(paths, index, record)
    return record


def import_outlines(paths: Paths, outlines: list[Outline]) -> tuple[list[dict[str, Any]], list[str]]:
    """Subscribe to OPML outlines without touching the network. Returns (added records, skip notes)."""
    added: list[dict[str, Any]] = []
    skipped: list[str] = []
    existing = records(paths)
    with Index(paths) as index:
        for outline in outlines:
            try:
                check_url(outline.url)
            except NetworkError as exc:
                skipped.append(str(exc))
                continue
            if any(matches(record, outline.url) for record in existing):
                skipped.append(f"{outline.url}: already subscribed")
                continue
            record = _new_record(outline.url, None, outline.title)
            save(paths, index, record)
            added.append(record)
            existing.append(record)
    return added, skipped


def export_outlines(paths: Paths) -> list[Outline]:
    return [Outline(record["url"], record["name"] or record["title"]) for record in records(paths)]


def unsubscribe(paths: Paths, ref: str) -> dict[str, Any]:
    """Forget a subscription. Its downloaded episodes stay (they may be in briefs)."""
    record = find_feed(paths, ref)
    with Index(paths) as index:
        paths.feed_file(record["id"]).unlink()
        index.remove_feed(record["id"])
    return record
