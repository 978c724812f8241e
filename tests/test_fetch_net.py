"""podbrief.net against a real local HTTP server: caps, timeouts, redirects, SSRF guard, resume."""

from __future__ import annotations

import gzip
import os
import socket
import time
from pathlib import Path

import pytest

from podbrief import config as configmod
from podbrief.errors import NetworkError
from podbrief.net import Client, HTTPStatusError, check_listed, check_target, via_proxy


def client(**network) -> Client:
    settings = {"allow_private": True, "timeout": 2, "total_timeout": 10, **network}
    return Client(configmod.merge(configmod.defaults(), {"network": settings}))


AUDIO = os.urandom(300_000)


# --- small documents -----------------------------------------------------------------------


def test_get_returns_the_body_and_validators_then_304(server):
    url = server.add("feed.xml", b"<rss/>")
    with client() as http:
        first = http.get(url)
        assert (first.status, first.body, first.moved_to) == (200, b"<rss/>", None)
        again = http.get(url, etag=first.etag)
        by_date = http.get(url, last_modified=first.last_modified)
    assert (again.status, again.body) == (304, b"")
    assert by_date.status == 304
    assert server.requests[1].headers["if-none-match"] == first.etag
    assert server.requests[2].headers["if-modified-since"] == first.last_modified


@pytest.mark.parametrize("status, reason", [(404, "Not Found"), (410, "Gone"), (500, "Internal Server Error")])
def test_http_errors_are_one_clear_line(server, status, reason):
    server.route("feed.xml", status=status)
    with client() as http, pytest.raises(HTTPStatusError) as caught:
        http.get(server.url("feed.xml"))
    assert str(caught.value) == f"{server.url('feed.xml')}: HTTP {status} {reason}"
    assert caught.value.status == status


def test_permanent_redirects_report_the_new_url(server):
    server.add("new.xml", b"<rss/>")
    server.route("old.xml", status=301, location="/mid.xml")
    server.route("mid.xml", status=308, location=server.url("new.xml"))
    with client() as http:
        fetched = http.get(server.url("old.xml"))
    assert fetched.body == b"<rss/>"
    assert fetched.moved_to == server.url("new.xml")


def test_a_temporary_redirect_on_the_way_is_not_a_move(server):
    server.add("new.xml", b"<rss/>")
    server.route("old.xml", status=301, location="/mid.xml")
    server.route("mid.xml", status=302, location="/new.xml")
    with client() as http:
        assert http.get(server.url("old.xml")).moved_to is None


def test_redirect_loop(server):
    server.route("a.xml", status=302, location="/b.xml")
    server.route("b.xml", status=302, location="/a.xml")
    with client() as http, pytest.raises(NetworkError, match=r"a\.xml: redirect loop"):
        http.get(server.url("a.xml"))
    assert len(server.requests) == 2


def test_at_most_five_redirects(server):
    for hop in range(5):
        server.route(f"r{hop}", status=302, location=f"/r{hop + 1}")
    server.add("r5", b"<rss/>")
    with client() as http:
        assert http.get(server.url("r0")).body == b"<rss/>"  # five redirects are fine
        server.add("r6", b"<rss/>")
        server.route("r5", status=302, location="/r6")
        with pytest.raises(NetworkError, match="more than 5 redirects"):
            http.get(server.url("r0"))


def test_every_redirect_target_is_checked(server):
    server.route("feed.xml", status=302, location="file:///etc/passwd")
    with client() as http, pytest.raises(NetworkError, match="only http and https"):
        http.get(server.url("feed.xml"))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/feed", "http://localhost/feed", "http://10.1.2.3/feed", "http://192.168.1.1/feed",
    "http://169.254.169.254/latest/meta-data", "http://[::1]/feed", "http://[::ffff:127.0.0.1]/feed",
    "http://0.0.0.0/feed", "http://100.64.0.1/feed", "http://224.0.0.1/feed", "http://[fe80::1]/feed",
])
def test_private_targets_are_refused_by_default(url):
    with pytest.raises(NetworkError, match="refusing to connect to non-public address"):
        check_target(url, allow_private=False)


def test_public_targets_and_the_opt_out_pass():
    check_target("https://8.8.8.8/feed", allow_private=False)
    check_target("http://127.0.0.1/feed", allow_private=True)


@pytest.mark.parametrize("url", ["ftp://example.com/feed", "file:///etc/passwd", "feed.xml", "http:///x",
                                 "http://example.com:99999/"])
def test_only_absolute_http_urls(url):
    with pytest.raises(NetworkError, match=url.replace("?", r"\?")):
        check_target(url, allow_private=True)


def test_the_local_server_itself_is_refused_without_the_opt_out(server):
    with client(allow_private=False) as http, pytest.raises(NetworkError, match="non-public address 127.0.0.1"):
        http.get(server.add("feed.xml", b"<rss/>"))
    assert server.requests == []


def test_dns_rebinding_to_a_private_address_is_caught_on_the_connection(server, monkeypatch):
    """The name resolves to a public address when checked, then to 127.0.0.1 when httpx connects."""
    real = socket.getaddrinfo
    lookups = []

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.example":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        return real("93.184.216.34" if len(lookups) == 1 else "127.0.0.1", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = server.add("feed.xml", b"<rss/>").replace("127.0.0.1", "rebind.example")
    with client(allow_private=False) as http, pytest.raises(NetworkError, match="non-public address 127.0.0.1"):
        http.get(url)
    assert len(lookups) == 2


def test_behind_a_proxy_the_peer_is_the_proxy_and_is_not_checked(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    assert not via_proxy("https://example.com/feed")
    monkeypatch.setenv("HTTPS_PROXY", "http://10.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    assert via_proxy("https://example.com/feed")
    assert not via_proxy("http://example.com/feed") and not via_proxy("https://internal.example/feed")


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_a_50_mb_feed_is_over_the_cap(server, declared):
    server.route("huge.xml", generate=50_000_000, content_length=declared)
    with client() as http, pytest.raises(NetworkError, match="larger than the 20 MB feed cap"):
        http.get(server.url("huge.xml"))


def test_the_cap_counts_decompressed_bytes(server):
    server.route("bomb.xml", body=gzip.compress(b" " * 25_000_000), headers={"Content-Encoding": "gzip"})
    with client() as http, pytest.raises(NetworkError, match="larger than the 20 MB feed cap"):
        http.get(server.url("bomb.xml"))


def test_a_server_dripping_one_byte_a_second_times_out(server):
    server.route("drip.xml", body=b"<rss>" + b" " * 100 + b"</rss>", rate=1)
    started = time.monotonic()
    with client(total_timeout=2) as http, pytest.raises(NetworkError, match=r"timed out \(took longer than network.total_timeout\)"):
        http.get(server.url("drip.xml"))
    assert time.monotonic() - started < 5


def test_a_stalled_server_hits_the_read_timeout(server):
    server.route("stall.xml", body=b"<rss></rss>", rate=0.2)  # one byte every five seconds
    with client(timeout=1) as http, pytest.raises(NetworkError, match="stall.xml: timed out$"):
        http.get(server.url("stall.xml"))


# --- downloads -----------------------------------------------------------------------------


def test_download_streams_to_partial_then_renames(server, tmp_path):
    seen = []
    with client() as http:
        http.download(server.add("ep.mp3", AUDIO), tmp_path / "audio.mp3", lambda done, total: seen.append(total))
    assert (tmp_path / "audio.mp3").read_bytes() == AUDIO
    assert not (tmp_path / "audio.mp3.partial").exists()
    assert set(seen) == {len(AUDIO)}
    assert server.requests[0].headers["accept-encoding"] == "identity"


def test_download_resumes_a_partial_file_with_range(server, tmp_path):
    (tmp_path / "audio.mp3.partial").write_bytes(AUDIO[:1000])
    with client() as http:
        http.download(server.add("ep.mp3", AUDIO), tmp_path / "audio.mp3")
    assert server.requests[0].headers["range"] == "bytes=1000-"
    assert (tmp_path / "audio.mp3").read_bytes() == AUDIO


def test_download_starts_over_when_the_server_ignores_range(server, tmp_path):
    (tmp_path / "audio.mp3.partial").write_bytes(b"stale bytes")
    server.route("ep.mp3", ranges=False)
    with client() as http:
        http.download(server.add("ep.mp3", AUDIO), tmp_path / "audio.mp3")
    assert (tmp_path / "audio.mp3").read_bytes() == AUDIO


def test_a_complete_partial_is_finished_on_416(server, tmp_path):
    (tmp_path / "audio.mp3.partial").write_bytes(AUDIO)
    with client() as http:
        http.download(server.add("ep.mp3", AUDIO), tmp_path / "audio.mp3")
    assert (tmp_path / "audio.mp3").read_bytes() == AUDIO
    assert [request.headers.get("range") for request in server.requests] == [f"bytes={len(AUDIO)}-"]


def test_a_partial_longer_than_the_file_starts_over(server, tmp_path):
    (tmp_path / "audio.mp3.partial").write_bytes(AUDIO + b"junk")
    with client() as http:
        http.download(server.add("ep.mp3", AUDIO), tmp_path / "audio.mp3")
    assert (tmp_path / "audio.mp3").read_bytes() == AUDIO
    assert [request.headers.get("range") for request in server.requests] == [f"bytes={len(AUDIO) + 4}-", None]


def _interrupt(server, http: Client, url: str, dest: Path) -> None:
    """Download `url` (served as ep.mp3) with the connection cut after 100,000 bytes."""
    server.route("ep.mp3", close_after=100_000)
    with pytest.raises(NetworkError, match="ep.mp3: connection closed early"):
        http.download(url, dest)
    server.unroute("ep.mp3")


def test_truncated_audio_is_not_complete_and_resumes_later_with_if_range(server, tmp_path):
    url, dest = server.add("ep.mp3", AUDIO), tmp_path / "audio.mp3"
    with client() as http:
        _interrupt(server, http, url, dest)
        assert not dest.exists()
        assert (tmp_path / "audio.mp3.partial").read_bytes() == AUDIO[:100_000]
        validator = (tmp_path / "audio.mp3.partial.validator").read_text()
        assert validator.startswith('"')  # the first response's strong ETag
        http.download(url, dest)
    assert server.requests[-1].headers["range"] == "bytes=100000-"
    assert server.requests[-1].headers["if-range"] == validator
    assert dest.read_bytes() == AUDIO
    assert not (tmp_path / "audio.mp3.partial.validator").exists()


def test_a_file_that_changed_since_the_partial_is_fetched_whole_not_spliced(server, tmp_path):
    url, dest = server.add("ep.mp3", AUDIO), tmp_path / "audio.mp3"
    changed = bytes(reversed(AUDIO))  # same length, other bytes: as when a new ad is inserted
    with client() as http:
        _interrupt(server, http, url, dest)
        server.add("ep.mp3", changed)
        http.download(url, dest)
    assert server.requests[-1].headers["range"] == "bytes=100000-"  # asked to resume; the server said no
    assert dest.read_bytes() == changed
    assert not (tmp_path / "audio.mp3.partial.validator").exists()


def test_a_short_body_without_an_error_is_caught_by_the_length_check(server, tmp_path):
    # Content-Range announces more than the server sends, on a body delimited by closing the connection.
    (tmp_path / "audio.mp3.partial").write_bytes(AUDIO[:10])
    server.route("ep.mp3", body=AUDIO[10:20], status=206, headers={"Content-Range": f"bytes 10-19/{len(AUDIO)}"})
    with client() as http, pytest.raises(NetworkError, match=f"incomplete download \\(20 of {len(AUDIO)} bytes\\)"):
        http.download(server.url("ep.mp3"), tmp_path / "audio.mp3")
    assert not (tmp_path / "audio.mp3").exists()


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_audio_over_the_cap_is_refused_and_not_kept(server, tmp_path, declared):
    server.route("big.mp3", generate=3_000_000, content_length=declared)
    episode = tmp_path / "episode"
    episode.mkdir()
    with client(audio_max_bytes=1_000_000) as http, \
            pytest.raises(NetworkError, match="larger than the 1 MB audio cap"):
        http.download(server.url("big.mp3"), episode / "audio.mp3")
    assert list(episode.iterdir()) == []


def test_a_resume_at_the_wrong_offset_starts_over(server, tmp_path):
    (tmp_path / "audio.mp3.partial").write_bytes(AUDIO[:10])
    server.route("ep.mp3", body=AUDIO[:20], status=206, headers={"Content-Range": f"bytes 0-19/{len(AUDIO)}"})
    with client() as http, pytest.raises(NetworkError, match="resumed at byte 0, not 10; the next run starts over"):
        http.download(server.url("ep.mp3"), tmp_path / "audio.mp3")
    assert not (tmp_path / "audio.mp3.partial").exists() and not (tmp_path / "audio.mp3").exists()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/feed", "http://[::1]/feed", "http://10.0.0.7/feed",
                                 "http://169.254.169.254/", "http://localhost/feed", "http://db.LOCALHOST./feed"])
def test_check_listed_refuses_visibly_private_hosts(url):
    with pytest.raises(NetworkError, match="refusing to connect to non-public address"):
        check_listed(url, allow_private=False)
    check_listed(url, allow_private=True)


def test_check_listed_resolves_nothing(monkeypatch):
    def no_dns(*args):
        raise AssertionError("check_listed must not resolve names")
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    check_listed("https://feeds.example.invalid/podcast.xml", allow_private=False)
    with pytest.raises(NetworkError, match="only http and https"):
        check_listed("ftp://feeds.example.com/x", allow_private=False)


def test_a_configured_url_may_be_private_but_its_redirects_are_checked(server):
    url = server.add("search.json", b"{}")
    server.route("moved.json", status=302, location="/search.json")
    with client(allow_private=False) as http:
        assert http.get(url, configured=True).body == b"{}"
        with pytest.raises(NetworkError, match="non-public address 127.0.0.1"):
            http.get(url)
        with pytest.raises(NetworkError, match=r"search\.json: refusing to connect to non-public address"):
            http.get(server.url("moved.json"), configured=True)
    assert [request.path for request in server.requests] == ["/search.json", "/moved.json"]


def test_extra_headers_are_sent_and_retry_after_is_kept(server):
    server.route("limited", status=429, headers={"Retry-After": "120"})
    with client() as http, pytest.raises(HTTPStatusError) as caught:
        http.get(server.url("limited"), headers={"X-Auth-Key": "k"})
    assert (caught.value.status, caught.value.retry_after) == (429, "120")
    assert server.requests[0].headers["x-auth-key"] == "k"
