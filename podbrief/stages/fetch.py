"""The fetch stage: polling the subscribed feeds (podbrief/subscriptions.py) and downloading new episodes.

A poll first records every new episode (episode.json + index) and only then are
files downloaded, so a killed run resumes its downloads on the next run even when the
feed answers 304. An episode is marked fetched only once its audio (or, for an episode
without audio, its publisher transcript) is complete.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from podbrief import subscriptions
from podbrief.config import Config
from podbrief.errors import InputError, NetworkError, PartialFailure, PodbriefError, describe
from podbrief.formats import feed as feedformat
from podbrief.formats import transcripts
from podbrief.formats.documents import AUDIO_STEM, CHAPTERS_FILE, EPISODE, PUBLISHER_TRANSCRIPT_STEM
from podbrief.net import Client, Fetched, HTTPStatusError, check_url
from podbrief.progress import Bars, Reporter
from podbrief.render import clean
from podbrief.stages import Budget, StageReport
from podbrief.store import (
    Index,
    Paths,
    atomic_write_bytes,
    atomic_write_json,
    read_json,
    short_hash,
    utcnow,
)

# Audio file extensions come only from this allow-list, by MIME type.
AUDIO_TYPES = {
    "audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/mpeg3": "mp3", "audio/x-mpeg": "mp3",
    "audio/mp4": "m4a", "audio/m4a": "m4a", "audio/x-m4a": "m4a", "audio/aac": "aac", "audio/aacp": "aac",
    "audio/ogg": "ogg", "audio/opus": "opus", "audio/flac": "flac", "audio/x-flac": "flac",
    "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/webm": "webm",
    "video/mp4": "mp4", "video/x-m4v": "m4v", "video/webm": "webm", "video/quicktime": "mov",
}
# Publishers that omit the type (or send a generic one) still get an allow-listed URL suffix honoured.
GENERIC_TYPES = {None, "", "application/octet-stream", "binary/octet-stream"}


@dataclass
class FeedResult:
    """What polling one feed found."""

    id: str
    url: str
    title: str | None
    status: str  # ok | not modified | gone | error
    new: list[dict[str, Any]] = field(default_factory=list)  # [{"id", "title", "published"}]
    notes: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class FetchReport(StageReport):
    """A StageReport (episodes) plus what happened to each feed."""

    feeds: list[FeedResult] = field(default_factory=list)

    @property
    def feed_errors(self) -> list[FeedResult]:
        return [result for result in self.feeds if result.error]

    def to_json(self) -> dict[str, object]:
        return {**super().to_json(), "feeds": [asdict(result) for result in self.feeds]}

    def summary(self) -> str:
        if not self.feeds:
            return "No subscriptions yet: add one with `podbrief add URL`."
        new = sum(len(result.new) for result in self.feeds)
        line = f"Checked {len(self.feeds)} feed(s): {new} new episode(s), {len(self.done)} downloaded"
        if self.remaining:
            line += f", {self.remaining} left for the next run (time budget)"
        return line + "."

    def failure(self) -> PodbriefError | None:
        if not self.failed and not self.feed_errors:
            return None
        return PartialFailure(f"{len(self.feed_errors)} feed(s) and {len(self.failed)} episode(s) failed "
                              "(see the messages above); everything else was saved")


# --- polling -------------------------------------------------------------------------------


def audio_extension(enclosure: dict[str, Any] | None) -> str | None:
    """The file extension for an enclosure, from the MIME allow-list; None if it is not audio/video we accept."""
    if not enclosure:
        return None
    mime = (enclosure.get("type") or "").split(";")[0].strip().lower()
    if mime in AUDIO_TYPES:
        return AUDIO_TYPES[mime]
    suffix = PurePosixPath(urlsplit(enclosure["url"]).path).suffix.lower().lstrip(".")
    if mime in GENERIC_TYPES and suffix in AUDIO_TYPES.values():
        return suffix
    return None


def _poll(client: Client, record: dict[str, Any], shared_with: str | None) -> tuple[Fetched, feedformat.Feed | None]:
    """Network and parsing only (runs in a worker thread). `shared_with`: an older feed polling the same URL."""
    if shared_with:
        raise InputError(f"{record['url']}: feed {shared_with} polls the same URL "
                         f"(if it is the same show: podbrief remove {record['id']})")
    fetched = client.get(record["url"], etag=record["etag"], last_modified=record["last_modified"])
    if fetched.status == 304:
        return fetched, None
    return fetched, feedformat.parse(fetched.body, record["url"])


def _episode_record(record: dict[str, Any], episode: feedformat.Episode, episode_id: str) -> dict[str, Any]:
    return {
        "schema": EPISODE.schema, "id": episode_id, "feed_id": record["id"],
        "show": record["name"] or record["title"], "title": episode.title, "link": episode.link,
        "guid": episode.guid, "published": episode.published, "duration": episode.duration,
        "enclosure": episode.enclosure, "audio_file": None, "description": episode.description,
        "persons": episode.persons,
        "transcripts": [{**transcript, "file": None} for transcript in episode.transcripts],
        "chapters_url": episode.chapters["url"] if episode.chapters else None, "chapters_file": None,
        "discovered_at": utcnow(), "fetched_at": None,
    }


def _record_episodes(paths: Paths, index: Index, record: dict[str, Any], parsed: feedformat.Feed,
                     backfill: int, result: FeedResult) -> int:
    """Record the feed's new episodes (only the latest `backfill` on its first poll).

    Returns how many of the feed's episodes were already known.
    """
    known = set(record["seen"])
    fresh = []
    unusable = 0
    for episode in parsed.episodes:
        episode_id = short_hash(record["id"], episode.key)
        if episode_id in known:
            continue
        if audio_extension(episode.enclosure) is None and not episode.transcripts:
            unusable += 1
            continue
        fresh.append((episode_id, episode))
    if unusable:
        result.notes.append(f"{unusable} episode(s) have no audio in a supported format and no transcript; skipped")
    fresh.sort(key=lambda pair: pair[1].published or "", reverse=True)  # newest first
    if record["parsed_at"] is None and len(fresh) > backfill:
        result.notes.append(f"first fetch: taking the latest {backfill} of {len(fresh)} episodes (fetch.backfill)")
        fresh = fresh[:backfill]
    for episode_id, episode in fresh:
        meta_file = paths.episode_file(episode_id, EPISODE)
        if not meta_file.exists():  # a rerun after a crash keeps what was already recorded
            atomic_write_json(meta_file, _episode_record(record, episode, episode_id))
        index.upsert_episode(read_json(meta_file))
        result.new.append({"id": episode_id, "title": episode.title, "published": episode.published})
    every = {short_hash(record["id"], episode.key) for episode in parsed.episodes}
    record["seen"] = sorted(known | every)
    return len(every & known)


def _apply_poll(paths: Paths, index: Index, record: dict[str, Any],
                outcome: tuple[Fetched, feedformat.Feed | None] | Exception, backfill: int) -> tuple[FeedResult, int]:
    """Save what one poll found (main thread: files and index). Returns the result and the known-episode count."""
    record["last_checked"] = utcnow()
    result = FeedResult(record["id"], record["url"], record["title"], "ok")
    known = 0
    if isinstance(outcome, Exception):
        gone = isinstance(outcome, HTTPStatusError) and outcome.status in (404, 410)
        result.status = "gone" if gone else "error"
        result.error = f"feed gone: {outcome}" if gone else describe(outcome)
    else:
        fetched, parsed = outcome
        owner = _owner(paths, record, fetched.moved_to) if fetched.moved_to else None
        if owner:  # the episodes now served are that feed's: recording them here would make duplicates
            result.status, result.error = "error", (
                f"moved permanently to {fetched.moved_to}, which is already subscribed as feed {owner['id']}: "
                f"move refused (if it is the same show: podbrief remove {record['id']})")
        else:
            known = _apply_feed(paths, index, record, fetched, parsed, backfill, result)
    record.update(last_status=result.status, error=result.error)
    subscriptions.save(paths, index, record)
    return result, known


def _apply_feed(paths: Paths, index: Index, record: dict[str, Any], fetched: Fetched,
                parsed: feedformat.Feed | None, backfill: int, result: FeedResult) -> int:
    """Follow a move, record the new episodes and the validators. Returns the known-episode count."""
    if fetched.moved_to:
        result.notes.append(f"moved permanently to {fetched.moved_to}")
        record["url"] = fetched.moved_to
    if parsed is None:
        result.status = "not modified"
        return 0
    result.notes.extend(parsed.warnings)
    record["title"] = result.title = parsed.title
    known = _record_episodes(paths, index, record, parsed, backfill, result)
    record.update(etag=fetched.etag, last_modified=fetched.last_modified, parsed_at=record["last_checked"])
    if parsed.new_feed_url and parsed.new_feed_url != record["url"]:
        _follow_new_feed_url(paths, record, parsed.new_feed_url, result)
    return known


def _owner(paths: Paths, record: dict[str, Any], url: str) -> dict[str, Any] | None:
    """The other subscription that polls `url` (or was added with it), if any."""
    return next((other for other in subscriptions.records(paths) if other["id"] != record["id"] and subscriptions.matches(other, url)),
                None)


def _follow_new_feed_url(paths: Paths, record: dict[str, Any], new_url: str, result: FeedResult) -> None:
    """itunes:new-feed-url: poll the new address from now on (the feed ID stays), unless another
    subscription has it: a publisher must not be able to fold its feed into another show."""
    try:
        check_url(new_url)
    except NetworkError as exc:
        result.notes.append(f"ignored itunes:new-feed-url: {exc}")
        return
    owner = _owner(paths, record, new_url)
    if owner:
        result.notes.append(f"ignored itunes:new-feed-url {new_url}: already subscribed as feed {owner['id']}")
        return
    result.notes.append(f"the publisher moved this feed to {new_url}")
    record.update(url=new_url, etag=None, last_modified=None)


# --- downloading ---------------------------------------------------------------------------


def _download_episode(client: Client, paths: Paths, meta: dict[str, Any], with_extras: bool,
                      progress: Bars) -> tuple[dict[str, Any], list[str]]:
    """Download an episode's audio and (if wanted) its best publisher transcript and chapters.

    Transcripts and chapters are extras: their failures become notes, unless the episode has no
    audio to transcribe. Returns the completed episode metadata and the notes.
    """
    directory = paths.episode_dir(meta["id"])
    notes: list[str] = []
    extension = audio_extension(meta["enclosure"])
    if extension and not meta["audio_file"]:
        audio = directory / f"{AUDIO_STEM}.{extension}"
        if not audio.exists():
            bar = progress.add(clean(meta["title"])[:40], meta["enclosure"].get("length"))
            try:
                client.download(meta["enclosure"]["url"], audio, lambda done, total: bar.update(done, total))
            finally:
                bar.close()
        meta["audio_file"] = audio.name
    if with_extras or not extension:
        _download_transcript(client, directory, meta, notes)
    if with_extras and meta["chapters_url"] and not meta["chapters_file"]:
        _download_chapters(client, directory, meta, notes)
    if not meta["audio_file"] and not any(transcript["file"] for transcript in meta["transcripts"]):
        raise NetworkError("no audio, and no publisher transcript could be downloaded: " + "; ".join(notes))
    meta["fetched_at"] = utcnow()
    atomic_write_json(directory / EPISODE.file, meta)
    return meta, notes


def _transcript_extension(transcript: dict[str, Any]) -> str | None:
    return transcripts.MEDIA_TYPES.get((transcript["type"] or "").split(";")[0].strip())


def _download_transcript(client: Client, directory: Path, meta: dict[str, Any], notes: list[str]) -> None:
    """Download the best supported publisher transcript (trying the next format if one fails)."""
    if any(transcript["file"] for transcript in meta["transcripts"]):
        return
    supported = [t for t in meta["transcripts"] if _transcript_extension(t)]
    supported.sort(key=lambda t: transcripts.PUBLISHER_FORMATS.index(_transcript_extension(t)))
    for transcript in supported:
        name = f"{PUBLISHER_TRANSCRIPT_STEM}.{_transcript_extension(transcript)}"
        try:
            atomic_write_bytes(directory / name, client.get(transcript["url"], what="transcript").body)
        except NetworkError as exc:
            notes.append(f"transcript: {exc}")
            continue
        transcript["file"] = name
        return


def _download_chapters(client: Client, directory: Path, meta: dict[str, Any], notes: list[str]) -> None:
    try:
        body = client.get(meta["chapters_url"], what="chapters").body
        json.loads(body)
    except NetworkError as exc:
        notes.append(f"chapters: {exc}")
        return
    except ValueError:
        notes.append(f"chapters: {meta['chapters_url']}: not JSON; ignored")
        return
    atomic_write_bytes(directory / CHAPTERS_FILE, body)
    meta["chapters_file"] = CHAPTERS_FILE


# --- the stage -----------------------------------------------------------------------------


def run_pending(paths: Paths, config: Config, reporter: Reporter, budget: Budget = Budget(),
                feed_ids: list[str] | None = None) -> FetchReport:
    """Poll the feeds (all, or `feed_ids`) concurrently, record new episodes, then download pending ones."""
    records = subscriptions.records(paths)
    shared = _shared_urls(records)
    if feed_ids is not None:
        records = [record for record in records if record["id"] in feed_ids]
    report = FetchReport("fetch")
    workers = max(1, config["network"]["concurrency"])
    with Index(paths) as index, Client(config) as client, reporter.bars("bytes") as progress, \
            ThreadPoolExecutor(workers) as pool:
        polls = {pool.submit(_poll, client, record, shared.get(record["id"])): record for record in records}
        for future in as_completed(polls):
            record = polls[future]
            try:  # any failure of one feed, from its URL, its bytes or its episodes, is that feed's error
                result, known = _apply_poll(paths, index, record, future.result(), config["fetch"]["backfill"])
            except Exception as exc:
                result, known = _apply_poll(paths, index, record, exc, config["fetch"]["backfill"])
            report.feeds.append(result)
            report.skipped += known
            _report_feed(reporter, result)
        wanted = {record["id"] for record in records}
        pending = [row["id"] for row in index.pending("fetch") if row["feed_id"] in wanted]
        downloads: dict[Future[tuple[dict[str, Any], list[str]]], dict[str, Any]] = {}
        for episode_id in pending:
            if budget.exhausted():
                report.remaining += 1
                continue
            meta = read_json(paths.episode_file(episode_id, EPISODE))
            downloads[pool.submit(_download_episode, client, paths, meta, config["fetch"]["transcripts"],
                                  progress)] = meta
        for download in as_completed(downloads):
            meta = downloads[download]
            try:
                done, notes = download.result()
            except Exception as exc:
                error = describe(exc)
                index.mark_failed(meta["id"], "fetch", error)
                report.failed[meta["id"]] = error
                reporter.say("failed", f"{meta['show']}: {meta['title']}: {error}")
                continue
            index.mark_done(meta["id"], "fetch", done["fetched_at"])
            report.done.append(meta["id"])
            reporter.say("downloaded", f"{meta['show']}: {meta['title']}")
            for note in notes:
                reporter.say("note", f"{meta['title']}: {note}")
    order = {record["id"]: position for position, record in enumerate(records)}
    report.feeds.sort(key=lambda result: order[result.id])
    return report


def _shared_urls(records: list[dict[str, Any]]) -> dict[str, str]:
    """{feed ID: the older feed's ID} for feeds polling another's URL (a move an older podbrief let through)."""
    first: dict[str, str] = {}
    for record in records:  # oldest first
        first.setdefault(record["url"], record["id"])
    return {record["id"]: first[record["url"]] for record in records if first[record["url"]] != record["id"]}


def _report_feed(reporter: Reporter, result: FeedResult) -> None:
    name = result.title or result.url
    if result.error:
        reporter.say("failed", f"{name}: {result.error}")
    for note in result.notes:
        reporter.say("note", f"{name}: {note}")
    for episode in result.new:
        reporter.say("new", f"{name}: {episode['title']}")
