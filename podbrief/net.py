"""The only module that touches the network.

Every request goes through `Client`, which enforces what a feed publisher must not
be able to abuse: http/https only; redirects followed by hand (at most 5), each one
re-checked; private, loopback and link-local targets refused unless
`network.allow_private` (checked on the resolved name, and again on the address each
connection reached, which defeats DNS rebinding); connect/read timeouts plus a cap on
the total time; and byte caps on what is actually received (a declared Content-Length
is only an early refusal, because it can lie).

It is over 400 lines on purpose: every network guard in one file, where a review can see them all.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from podbrief import __version__
from podbrief.config import Config
from podbrief.errors import NetworkError
from podbrief.store import atomic_write_text, replace_file

MAX_REDIRECTS = 5
REDIRECT_CODES = {301, 302, 303, 307, 308}
PERMANENT_CODES = {301, 308}

Progress = Callable[[int, "int | None"], None]  # (bytes so far, total bytes or None)


class HTTPStatusError(NetworkError):
    """The server answered with an HTTP error status (kept so callers can tell 404/410 apart)."""

    def __init__(self, url: str, status: int, reason: str, retry_after: str | None = None):
        super().__init__(f"{url}: HTTP {status} {reason}".rstrip())
        self.status = status
        self.retry_after = retry_after  # the Retry-After header of a 429 or 503, as sent


class TooLarge(NetworkError):
    """More bytes than the configured cap."""


@dataclass(frozen=True)
class Fetched:
    """A small document (feed, transcript, chapters) read fully into memory."""

    url: str  # the URL that answered, after redirects
    moved_to: str | None  # the new URL when every redirect on the way was permanent
    status: int  # 200, or 304 for a conditional request whose document did not change
    body: bytes
    etag: str | None
    last_modified: str | None


def megabytes(n: int) -> str:
    return f"{n / 1e6:g} MB"


def check_url(url: str) -> tuple[str, int]:
    """(host, port) of an absolute http(s) URL; anything else raises NetworkError."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise NetworkError(f"{url}: not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise NetworkError(f"{url}: only http and https URLs are allowed")
    if not parts.hostname:
        raise NetworkError(f"{url}: no host name in the URL")
    return parts.hostname, port


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _refuse(url: str, address: object) -> NetworkError:
    return NetworkError(f"{url}: refusing to connect to non-public address {address} "
                        "(set network.allow_private: true for LAN feeds)")


def check_target(url: str, allow_private: bool) -> None:
    """Refuse non-http(s) URLs and, unless allowed, hosts that resolve to any non-public address."""
    host, port = check_url(url)
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise NetworkError(f"{url}: cannot resolve host {host} ({exc})") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not _is_public(address):
            raise _refuse(url, address)


def check_listed(url: str, allow_private: bool) -> None:
    """`check_url`, and unless allowed a refusal of a visibly private host (an IP literal, localhost), without DNS.

    For URLs that an untrusted list proposes (directory answers): listing them resolves
    nothing, and following one later goes through `check_target` like every request.
    """
    host, _ = check_url(url)
    if allow_private:
        return
    try:
        private = not _is_public(ipaddress.ip_address(host))
    except ValueError:  # a name, not an address
        private = host.lower().rstrip(".").split(".")[-1] == "localhost"
    if private:
        raise _refuse(url, host)


def via_proxy(url: str) -> bool:
    """True when the environment routes `url` through a proxy (HTTP(S)_PROXY/ALL_PROXY, minus NO_PROXY),
    as httpx does with its default trust_env."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    return bool(proxies.get(parts.scheme) or proxies.get("all")) and not urllib.request.proxy_bypass_environment(  # type: ignore[attr-defined]
        parts.hostname or "", proxies)


def check_peer(response: httpx.Response, url: str, allow_private: bool) -> None:
    """Refuse a response whose connection reached a non-public address, before its body is read.

    `check_target` resolves the host before the request, and httpx resolves it again to
    connect: a DNS answer that changes in between (DNS rebinding) is caught here, on the
    address the socket actually connected to.
    """
    if allow_private or via_proxy(url):  # through a proxy, the peer is the proxy (which resolves the name)
        return
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if peer and not _is_public(ipaddress.ip_address(str(peer[0]).split("%")[0])):
        raise _refuse(url, peer[0])


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out (took longer than network.total_timeout)" if _past_deadline() else "timed out"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"connection closed early ({exc})"
    return str(exc) or type(exc).__name__


# --- the deadline of a whole request ----------------------------------------------------------
# httpx's timeouts bound each socket operation, so a server that sends one header line a second
# never trips them. The requests a thread makes run under that thread's deadline, and every read,
# write and connect gets at most the time left: `network.total_timeout` covers the whole request.

_request = threading.local()


def _time_left(timeout: float | None) -> float | None:
    """`timeout`, cut to the time left before this thread's deadline."""
    deadline = getattr(_request, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("network.total_timeout passed")
    return left if timeout is None else min(timeout, left)


def _past_deadline() -> bool:
    deadline = getattr(_request, "deadline", None)
    return deadline is not None and time.monotonic() >= deadline


@contextlib.contextmanager
def _deadline(at: float) -> Iterator[None]:
    """Run this thread's requests under the deadline `at` (time.monotonic())."""
    before = getattr(_request, "deadline", None)
    _request.deadline = at
    try:
        yield
    finally:
        _request.deadline = before


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream):
        self.stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, _time_left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, _time_left(timeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self.stream.start_tls(ssl_context, server_hostname, _time_left(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


class _DeadlineBackend(httpcore.SyncBackend):
    """httpcore's own backend, with every socket operation bounded by the request's deadline."""

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(super().connect_tcp(host, port, _time_left(timeout), local_address, socket_options))


def _transport() -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport()
    transport._pool._network_backend = _DeadlineBackend()  # httpx has no option for it
    return transport


@contextlib.contextmanager
def _errors(url: str) -> Iterator[None]:
    """Turn httpx exceptions, and URLs httpx cannot use, into a one-line NetworkError naming the URL."""
    try:
        yield
    except httpx.HTTPError as exc:
        raise NetworkError(f"{url[:200]}: {_describe(exc)}") from None
    except (httpx.InvalidURL, UnicodeError) as exc:  # UnicodeError: a host name IDNA refuses, e.g. "xn--"
        raise NetworkError(f"{url[:200]}: not a usable URL ({str(exc)[:200]})") from None


def _content_range(response: httpx.Response) -> tuple[int | None, int | None]:
    """(first byte, total length) from a Content-Range header like "bytes 100-199/200" or "bytes */200"."""
    match = re.fullmatch(r"bytes (?:(\d+)-\d+|\*)/(\d+|\*)", response.headers.get("content-range", "").strip())
    if not match:
        return None, None
    start, total = match.groups()
    return (int(start) if start else None), (int(total) if total != "*" else None)


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


def _validator(response: httpx.Response) -> str | None:
    """What If-Range may carry for this response: a strong ETag, else Last-Modified (RFC 9110 13.1.5)."""
    etag = response.headers.get("etag", "")
    if etag and not etag.startswith("W/"):
        return etag
    return response.headers.get("last-modified") or None


def _validator_file(partial: Path) -> Path:
    return partial.with_name(partial.name + ".validator")


def _discard(partial: Path) -> None:
    """Forget a partial download and its validator."""
    partial.unlink(missing_ok=True)
    _validator_file(partial).unlink(missing_ok=True)


def _finish(partial: Path, dest: Path) -> None:
    """Move a complete partial download into place."""
    replace_file(partial, dest)
    _validator_file(partial).unlink(missing_ok=True)


class Client:
    """An httpx client with podbrief's caps and checks. Use as a context manager."""

    def __init__(self, config: Config):
        net = config["network"]
        self.timeout = float(net["timeout"])
        self.total_timeout = float(net["total_timeout"])
        self.feed_max_bytes = int(net["feed_max_bytes"])
        self.audio_max_bytes = int(net["audio_max_bytes"])
        self.allow_private = bool(net["allow_private"])
        self.http = httpx.Client(
            transport=_transport(),
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,
            headers={"User-Agent": net["user_agent"] or f"podbrief/{__version__}"},
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _open(self, url: str, headers: dict[str, str],
              configured: bool = False) -> Iterator[tuple[httpx.Response, str | None, float]]:
        """GET `url`, following up to 5 redirects by hand and re-checking each target.

        `configured`: `url` comes from the user's config (a directory endpoint), not from the
        network, so its own address may be private, as `email.host` may; every redirect from
        it is checked as usual. Yields (response, moved_to, deadline); `moved_to` is the final
        URL when every redirect was permanent.
        """
        deadline = time.monotonic() + self.total_timeout
        with _deadline(deadline):  # headers included, not only the body
            visited = [url]
            permanent = True
            for hop in range(MAX_REDIRECTS + 1):
                allow_private = self.allow_private or (configured and hop == 0)
                check_target(url, allow_private)
                with _errors(url):
                    response = self.http.send(self.http.build_request("GET", url, headers=headers), stream=True)
                try:
                    check_peer(response, url, allow_private)
                except NetworkError:
                    response.close()
                    raise
                if response.status_code not in REDIRECT_CODES:
                    try:
                        yield response, (url if permanent and len(visited) > 1 else None), deadline
                    finally:
                        response.close()
                    return
                response.close()
                location = response.headers.get("location")
                if not location:
                    raise NetworkError(f"{url}: HTTP {response.status_code} redirect without a Location")
                permanent = permanent and response.status_code in PERMANENT_CODES
                url = urljoin(url, location)
                if url in visited:
                    raise NetworkError(f"{visited[0]}: redirect loop")
                visited.append(url)
            raise NetworkError(f"{visited[0]}: more than {MAX_REDIRECTS} redirects")

    def _body(self, response: httpx.Response, url: str, deadline: float, cap: int, what: str,
              have: int = 0, raw: bool = False) -> Iterator[bytes]:
        """The body as it arrives, stopped at the byte cap (counting `have` bytes already on disk) and deadline.

        `raw` skips Content-Encoding decoding (downloads ask for identity); otherwise the cap
        counts decoded bytes, so a small gzip bomb cannot expand past it.
        """
        with _errors(url):
            for chunk in response.iter_raw() if raw else response.iter_bytes():
                have += len(chunk)
                if have > cap:
                    raise TooLarge(f"{url}: larger than the {megabytes(cap)} {what} cap")
                if time.monotonic() > deadline:
                    raise NetworkError(f"{url}: timed out (took longer than {self.total_timeout:g} s)")
                yield chunk

    @staticmethod
    def _raise_for_status(response: httpx.Response, url: str) -> None:
        if response.status_code >= 400:
            raise HTTPStatusError(url, response.status_code, response.reason_phrase,
                                  response.headers.get("retry-after"))

    def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
            what: str = "feed", headers: dict[str, str] | None = None, configured: bool = False) -> Fetched:
        """Fetch a small document fully (at most `network.feed_max_bytes`), conditionally if validators are given.

        `headers` are sent as well; `configured` as for `_open`.
        """
        headers = dict(headers or {})
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        with self._open(url, headers, configured) as (response, moved_to, deadline):
            final = str(response.url)
            self._raise_for_status(response, final)
            if response.status_code == 304:
                body = b""
            else:
                declared = _content_length(response)
                if declared is not None and declared > self.feed_max_bytes:
                    raise TooLarge(f"{final}: larger than the {megabytes(self.feed_max_bytes)} {what} cap")
                body = b"".join(self._body(response, final, deadline, self.feed_max_bytes, what))
            return Fetched(final, moved_to, response.status_code, body,
                           response.headers.get("etag"), response.headers.get("last-modified"))

    def download(self, url: str, dest: Path, progress: Progress | None = None) -> None:
        """Stream `url` into `dest` via `dest.partial`, resuming a previous partial download with Range.

        The file is renamed into place only once its length matches what the server announced;
        an interrupted download keeps its `.partial` for the next run. The resume carries
        If-Range with the first response's validator, kept in `.partial.validator`, so a file
        that changed on the server in between (dynamically inserted ads do that) is sent whole
        instead of being spliced onto the old bytes. A file over the audio cap is refused.
        """
        partial = dest.with_name(dest.name + ".partial")
        validator_file = _validator_file(partial)
        have = partial.stat().st_size if partial.exists() else 0
        headers = {"Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
            if validator_file.exists():
                headers["If-Range"] = validator_file.read_text(encoding="utf-8")
        with self._open(url, headers) as (response, _, deadline):
            final = str(response.url)
            start, total = _content_range(response)
            if response.status_code == 416 and have:
                if total == have:  # the partial file was already complete
                    _finish(partial, dest)
                    return
                _discard(partial)  # the partial does not match the server's file: start over
                return self.download(url, dest, progress)
            self._raise_for_status(response, final)
            if response.status_code == 206:
                if start != have:
                    _discard(partial)
                    raise NetworkError(f"{final}: the server resumed at byte {start}, not {have}; "
                                       "the next run starts over")
                mode = "ab"
            else:  # a fresh download, or the server ignored Range or the file changed: start from scratch
                mode, have, total = "wb", 0, _content_length(response)
                _discard(partial)
                validator = _validator(response)
                if validator:
                    atomic_write_text(validator_file, validator)
            if total is not None and total > self.audio_max_bytes:
                _discard(partial)
                raise TooLarge(f"{final}: larger than the {megabytes(self.audio_max_bytes)} audio cap")
            try:
                with open(partial, mode) as handle:
                    try:
                        for chunk in self._body(response, final, deadline, self.audio_max_bytes, "audio",
                                                have, raw=True):
                            handle.write(chunk)
                            have += len(chunk)
                            if progress:
                                progress(have, total)
                    finally:
                        handle.flush()
                        os.fsync(handle.fileno())
            except TooLarge:  # it will never fit: keep nothing to resume
                _discard(partial)
                raise
        if total is not None and have != total:
            raise NetworkError(f"{final}: incomplete download ({have} of {total} bytes); the next run resumes it")
        _finish(partial, dest)
