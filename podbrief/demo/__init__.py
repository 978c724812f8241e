"""The offline demo: bundled sample episodes served as real podcast feeds from 127.0.0.1.

`shows.json`, `audio/*.mp3` and `transcripts/*.vtt` are made by scripts/make_demo_audio.py
(see SOURCES.md). One show publishes a WebVTT transcript with speaker names, so the demo
runs both the ASR path and the publisher-transcript path.
The feeds are built when served, with publication dates a few hours before now, so
the demo's episodes are as fresh as a real morning's. Serving them over HTTP (not
reading the files directly) makes the demo exercise the real fetch code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import tempfile
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from podbrief import subscriptions
from podbrief.config import Config
from podbrief.errors import UsageError
from podbrief.progress import Reporter
from podbrief.stages import today
from podbrief.store import Paths, run_lock

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST = "https://podcastindex.org/namespace/1.0"


def shows() -> list[dict[str, Any]]:
    """The bundled shows with their episodes (see shows.json)."""
    return json.loads(resources.files(__name__).joinpath("shows.json").read_text(encoding="utf-8"))["shows"]


def audio(name: str) -> bytes:
    return resources.files(__name__).joinpath("audio").joinpath(name).read_bytes()


def transcript(name: str) -> bytes:
    return resources.files(__name__).joinpath("transcripts").joinpath(name).read_bytes()


def feed_xml(show: dict[str, Any], base_url: str, now: dt.datetime) -> bytes:
    """An RSS 2.0 podcast feed for `show` with its audio under `base_url`."""
    ET.register_namespace("itunes", ITUNES)
    ET.register_namespace("podcast", PODCAST)
    rss = ET.Element("rss", version="2.0")
    channel = ET.SubElement(rss, "channel")
    for tag, text in (("title", show["title"]), ("link", f"{base_url}/"), ("description", show["description"]),
                      ("language", "en")):
        ET.SubElement(channel, tag).text = text
    ET.SubElement(channel, f"{{{ITUNES}}}author").text = show["host"]
    for episode in show["episodes"]:
        item = ET.SubElement(channel, "item")
        published = now - dt.timedelta(hours=episode["age_hours"])
        for tag, text in (("title", episode["title"]), ("description", episode["description"]),
                          ("guid", f"podbrief-demo:{show['slug']}:{episode['slug']}"),
                          ("pubDate", format_datetime(published.astimezone(dt.timezone.utc), usegmt=True))):
            ET.SubElement(item, tag).text = text
        ET.SubElement(item, "enclosure", url=f"{base_url}/audio/{episode['audio']}", type="audio/mpeg",
                      length=str(episode["bytes"]))
        ET.SubElement(item, f"{{{ITUNES}}}duration").text = str(round(episode["duration"]))
        for person in episode["persons"]:
            ET.SubElement(item, f"{{{PODCAST}}}person", role=person["role"]).text = person["name"]
        if episode["transcript"]:
            ET.SubElement(item, f"{{{PODCAST}}}transcript", url=f"{base_url}/transcripts/{episode['transcript']}",
                          type="text/vtt")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(rss, encoding="utf-8", xml_declaration=False)


def site(base_url: str, now: dt.datetime) -> dict[str, tuple[str, bytes]]:
    """Every path the demo server answers: {path: (content type, body)}."""
    files: dict[str, tuple[str, bytes]] = {}
    for show in shows():
        files[f"/{show['slug']}.xml"] = ("application/rss+xml", feed_xml(show, base_url, now))
        for episode in show["episodes"]:
            files[f"/audio/{episode['audio']}"] = ("audio/mpeg", audio(episode["audio"]))
            if episode["transcript"]:
                files[f"/transcripts/{episode['transcript']}"] = ("text/vtt", transcript(episode["transcript"]))
    return files


@contextlib.contextmanager
def serve(now: dt.datetime | None = None) -> Iterator[list[str]]:
    """Serve the demo feeds on 127.0.0.1 (a free port) in a thread; yields the feed URLs."""
    files: dict[str, tuple[str, bytes]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            content_type, body = files.get(self.path, ("text/plain", b""))
            self.send_response(200 if self.path in files else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    files.update(site(base_url, now or dt.datetime.now(dt.timezone.utc)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield [f"{base_url}/{show['slug']}.xml" for show in shows()]
    finally:
        httpd.shutdown()
        httpd.server_close()


def run(config: Config, reporter: Reporter, home: Path | None = None) -> dict[str, Any]:
    """Subscribe a fresh home to the demo feeds, served from 127.0.0.1, and make today's brief.

    `home` defaults to a temporary directory, removed afterwards; `config` must allow private addresses.
    """
    with contextlib.ExitStack() as stack:
        if home is None:
            home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="podbrief-demo-")))
        paths = Paths(home)
        if paths.feeds_dir.exists() and any(paths.feeds_dir.iterdir()):
            raise UsageError(f"{home} already has subscriptions: the demo needs a new directory")
        urls = stack.enter_context(serve())
        with run_lock(paths):
            for url in urls:
                subscriptions.subscribe(paths, config, url)
        now = dt.datetime.now(dt.timezone.utc)
        return today.run(paths, config, reporter, today.window(now, config["brief"]["since_days"]), now=now)
