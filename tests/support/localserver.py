"""A real HTTP/1.1 server on 127.0.0.1 for tests, with programmable misbehaviour.

Used through the `server` fixture in conftest.py:

    def test_something(server, home):
        server.add("feed.xml", podcast_feed(server, "Show", [episode(server, "ep1", b"audio bytes")]))
        url = server.url("feed.xml")
        ...
        assert [r.path for r in server.requests] == ["/feed.xml", "/ep1.mp3"]

Files are served from `server.root` (a fresh temp dir) with an ETag, a Last-Modified,
conditional GET (304) and `Range` (206/416, honouring If-Range) support. `server.route(path, ...)` makes one
path misbehave; see `Route` for the knobs (status codes, redirects, slow or dripping
bodies, connections closed early, generated bodies of any size, no Content-Length, only the
first N requests). A route for "path?query" answers only that exact query, before a route for the path.
Every request is logged in `server.requests` (method, path, lower-cased headers, query string).
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple


@dataclass
class Route:
    """How the server answers one path (defaults: serve the file like a well-behaved server)."""

    status: int = 200
    body: bytes | None = None  # serve these bytes instead of a file
    generate: int | None = None  # serve this many generated filler bytes (for size caps; nothing is stored)
    location: str | None = None  # Location header, for redirects (use with status=301/302/...)
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    rate: float | None = None  # send the body at about this many bytes per second (1 = drip)
    close_after: int | None = None  # announce the full length, send this many body bytes, then close
    content_length: bool = True  # False: no Content-Length; the body ends when the connection closes
    ranges: bool = True  # honour Range requests
    conditional: bool = True  # honour If-None-Match / If-Modified-Since
    times: int | None = None  # answer only this many requests so, then serve the path normally
    slow_headers: int = 0  # first send this many filler header lines, one every `slow_header_seconds`
    slow_header_seconds: float = 1.0


class Request(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]
    query: str = ""


class LocalServer:
    def __init__(self, root: Path):
        self.root = root
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def add(self, path: str, data: bytes) -> str:
        """Store a file to serve at `path`; returns its URL."""
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return self.url(path)

    def route(self, path: str, **behaviour: object) -> None:
        """Make `path` behave as described by `Route(**behaviour)` (replacing any earlier route)."""
        self.routes["/" + path.lstrip("/")] = Route(**behaviour)  # type: ignore[arg-type]

    def unroute(self, path: str) -> None:
        self.routes.pop("/" + path.lstrip("/"), None)

    def take_route(self, target: str) -> Route | None:
        """The route for `target` (a path, or path?query), counting one use of a route limited in `times`."""
        with self._lock:
            route = self.routes.get(target)
            if route is not None and route.times is not None:
                route.times -= 1
                if route.times <= 0:
                    del self.routes[target]
            return route

    def requests_to(self, path: str) -> list[Request]:
        return [request for request in self.requests if request.path == "/" + path.lstrip("/")]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def log(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _make_handler(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stalls

        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

        def handle(self) -> None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up: fine
                super().handle()

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            server.log(Request("GET", path, {k.lower(): v for k, v in self.headers.items()}, query))
            self._answer(path, server.take_route(self.path) or server.take_route(path) or Route())

        def _answer(self, path: str, route: Route) -> None:
            if route.location or route.status != 200:
                body = route.body if route.body is not None else f"HTTP {route.status}\n".encode()
                self._head(route.status, len(body), route, {"Location": route.location} if route.location else {})
                self.wfile.write(body)
                return
            if route.generate is not None:
                self._head(200, route.generate if route.content_length else None, route, {})
                self._send(_filler(route.generate), route)
                return
            data = route.body if route.body is not None else self._file(path)
            if data is None:
                self._head(404, 10, route, {})
                self.wfile.write(b"not found\n")
                return
            etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
            modified = self._mtime(path)
            validators = {"ETag": etag, "Last-Modified": formatdate(modified, usegmt=True)}
            if route.conditional and self._not_modified(etag, modified):
                self._head(304, None, route, validators)
                return
            start = self._range_start() if route.ranges else None
            if_range = self.headers.get("If-Range")
            if if_range and if_range not in validators.values():
                start = None  # the file changed since the client's first request: send it whole
            if start is not None and start >= len(data):
                self._head(416, 0, route, {"Content-Range": f"bytes */{len(data)}"})
                return
            if start is not None:
                extra = {**validators, "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
                self._head(206, len(data) - start, route, extra)
                self._send(iter([data[start:]]), route)
                return
            self._head(200, len(data) if route.content_length else None, route, validators)
            self._send(iter([data]), route)

        def _file(self, path: str) -> bytes | None:
            target = (server.root / path.lstrip("/")).resolve()
            if server.root.resolve() not in target.parents or not target.is_file():
                return None
            return target.read_bytes()

        def _mtime(self, path: str) -> float:
            target = server.root / path.lstrip("/")
            return target.stat().st_mtime if target.is_file() else 0.0

        def _not_modified(self, etag: str, modified: float) -> bool:
            if "If-None-Match" in self.headers:
                return self.headers["If-None-Match"] == etag
            since = self.headers.get("If-Modified-Since")
            return bool(since) and int(modified) <= parsedate_to_datetime(since).timestamp()

        def _range_start(self) -> int | None:
            value = self.headers.get("Range", "")
            if value.startswith("bytes=") and value.endswith("-") and value[6:-1].isdigit():
                return int(value[6:-1])
            return None

        def _head(self, status: int, length: int | None, route: Route, extra: dict[str, str]) -> None:
            self.send_response(status)
            for number in range(route.slow_headers):
                self.flush_headers()
                time.sleep(route.slow_header_seconds)
                self.send_header(f"X-Slow-{number}", "1")
            self.send_header("Content-Type", route.content_type or "application/octet-stream")
            if length is not None:
                self.send_header("Content-Length", str(length))
            else:
                self.close_connection = True
            if route.ranges:
                self.send_header("Accept-Ranges", "bytes")
            for name, value in {**extra, **route.headers}.items():
                self.send_header(name, value)
            if route.close_after is not None or length is None:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()

        def _send(self, chunks: object, route: Route) -> None:
            budget = route.close_after
            for chunk in chunks:  # type: ignore[attr-defined]
                if budget is not None:
                    chunk = chunk[:budget]
                    budget -= len(chunk)
                _write(self.wfile, chunk, route.rate)
                if budget == 0:
                    break
            self.wfile.flush()

    return Handler


def _filler(size: int, chunk: int = 1 << 16) -> object:
    sent = 0
    while sent < size:
        piece = min(chunk, size - sent)
        yield b" " * piece
        sent += piece


def _write(stream: object, data: bytes, rate: float | None) -> None:
    if rate is None:
        stream.write(data)  # type: ignore[attr-defined]
        return
    step = max(1, int(rate / 10))  # about ten writes a second
    for offset in range(0, len(data), step):
        stream.write(data[offset:offset + step])  # type: ignore[attr-defined]
        stream.flush()  # type: ignore[attr-defined]
        time.sleep(step / rate)


# --- building feeds -----------------------------------------------------------------------


def item(title: str, guid: str | None, *, audio_url: str | None = None, length: int | None = None,
         audio_type: str = "audio/mpeg", published: str = "Mon, 06 Jan 2025 06:00:00 GMT",
         extra: str = "") -> str:
    """One RSS <item>; `extra` is raw XML appended inside it (e.g. podcast:transcript tags)."""
    parts = [f"<title>{html.escape(title)}</title>", f"<pubDate>{published}</pubDate>"]
    if guid is not None:
        parts.append(f"<guid isPermaLink=\"false\">{html.escape(guid)}</guid>")
    if audio_url is not None:
        size = f' length="{length}"' if length is not None else ""
        parts.append(f'<enclosure url="{html.escape(audio_url)}" type="{audio_type}"{size}/>')
    return "<item>" + "".join(parts) + extra + "</item>"


def rss(title: str, items: list[str], channel_extra: str = "") -> bytes:
    """A complete RSS 2.0 podcast feed (with the itunes and podcast namespaces declared)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        'xmlns:podcast="https://podcastindex.org/namespace/1.0">'
        f"<channel><title>{html.escape(title)}</title><link>https://example.com/</link>"
        f"{channel_extra}{''.join(items)}</channel></rss>\n"
    ).encode()
