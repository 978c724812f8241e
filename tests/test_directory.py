"""`podbrief search`, `add "name"` and `suggest` against directory answers served from 127.0.0.1.

The answers are fixtures in the iTunes Search API and Podcast Index formats
(tests/fixtures/directory, see LICENSES.md); `FEEDS` in them becomes the test server's address.
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import pytest
from support.localserver import item, rss
from typer.testing import CliRunner

from podbrief import directory
from podbrief.cli import app
from podbrief.errors import ExitStatus
from podbrief.store import short_hash

FIXTURES = Path(__file__).parent / "fixtures" / "directory"
runner = CliRunner()


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    """Tables one row per line, so a row's cells can be checked together."""
    monkeypatch.setenv("COLUMNS", "200")


def answer(server, name: str) -> bytes:
    return (FIXTURES / name).read_bytes().replace(b"FEEDS", server.base_url.encode())


@pytest.fixture
def itunes(server, set_config):
    """Point directory.itunes_url at the test server; returns a function serving a fixture there."""
    set_config(directory={"itunes_url": server.url("itunes/search")})

    def serve(name: str, **behaviour) -> None:
        server.route("itunes/search", body=answer(server, name), content_type="application/json", **behaviour)
    return serve


def serve_feed(server, path: str, title: str) -> str:
    return server.add(path, rss(title, [item("Episode 1", "ep-1", audio_url=server.url(f"{path}.mp3"))]))


def subscribed_urls(home: Path) -> list[str]:
    return [json.loads(path.read_text())["url"] for path in sorted((home / "feeds").glob("*.json"))]


def invoke(*args: str):
    return runner.invoke(app, list(args))


# --- search --------------------------------------------------------------------------------


def test_search_lists_title_author_episodes_feed_url_and_id(server, itunes):
    itunes("itunes-history.json")
    result = invoke("search", "history")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    for title, author, episodes, path in [("History Hour", "Ana Ortega", "312", "history-hour.xml"),
                                          ("Revolutions Revisited", "The Archive Collective", "87", "revolutions.xml"),
                                          ("Ancient History Weekly", "Sam Lee", "45", "ancient.xml")]:
        row = next(line for line in lines if title in line)
        assert author in row and episodes in row and short_hash(server.url(path)) in row
        assert server.url(path) in result.stdout
    assert "History Premium" not in result.stdout  # no feedUrl: nothing to subscribe to
    [request] = server.requests
    assert parse_qs(request.query) == {"term": ["history"], "media": ["podcast"], "entity": ["podcast"],
                                       "limit": ["10"]}
    assert request.headers["user-agent"].startswith("podbrief/")


def test_search_json_gives_the_same_fields(server, itunes):
    itunes("itunes-history.json")
    result = invoke("search", "--json", "history")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["query"] == "history"
    assert data["shows"][0] == {"id": short_hash(server.url("history-hour.xml")), "title": "History Hour",
                                "author": "Ana Ortega", "episodes": 312, "feed_url": server.url("history-hour.xml"),
                                "directory": "iTunes"}
    assert [show["title"] for show in data["shows"]] == ["History Hour", "Revolutions Revisited",
                                                         "Ancient History Weekly"]
    assert data["notes"] == ["iTunes: left out 1 result(s): no usable feed URL"]
    assert data["problems"] == []


def test_search_terms_are_joined_and_url_encoded(server, itunes):
    itunes("itunes-none.json")
    assert invoke("search", "lex", "fridman & co").exit_code == 0
    assert parse_qs(server.requests[0].query)["term"] == ["lex fridman & co"]


def test_no_match(server, itunes):
    itunes("itunes-none.json")
    result = invoke("search", "zzyzx")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "No podcast matches 'zzyzx'." in result.stderr
    assert json.loads(invoke("search", "--json", "zzyzx").stdout)["shows"] == []
    added = invoke("add", "zzyzx")
    assert added.exit_code == ExitStatus.USAGE
    assert "no podcast in the directories matches 'zzyzx'" in added.stderr


# --- untrusted answers ---------------------------------------------------------------------


@pytest.mark.parametrize("body, message", [
    (b'{"resultCount": 1, "results": "nope"}', "iTunes: unexpected answer (no list of results)"),
    (b'[{"collectionName": "x"}]', "iTunes: unexpected answer (no list of results)"),
    (b'{"resultCount": 1, "results": [', "iTunes: the answer is not JSON (it starts '{\"resultCount\": 1,"),
    (b"\xff\xfe\x00garbage", "iTunes: the answer is not JSON"),
    (b"[" * 200_000, "iTunes: the answer is not JSON (it starts '[[[["),
    (b"", "iTunes: the answer is not JSON (it starts '')"),
])
def test_a_malformed_answer_is_one_line_and_exit_4(server, itunes, body, message):
    server.route("itunes/search", body=body, content_type="application/json")
    result = invoke("search", "history")
    assert result.exit_code == ExitStatus.NETWORK
    assert result.stderr.startswith(f"podbrief: error: {message}")
    assert len(result.stderr.splitlines()) == 1


def test_an_html_error_page_is_a_clear_error(server, itunes):
    page = b"<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head><body>down</body></html>"
    server.route("itunes/search", status=503, body=page, content_type="text/html")
    failed = invoke("search", "history")
    assert failed.exit_code == ExitStatus.NETWORK
    assert failed.stderr.strip() == f"podbrief: error: {server.url('itunes/search')}?" \
        f"{server.requests[0].query}: HTTP 503 Service Unavailable"
    server.route("itunes/search", body=page, content_type="text/html")  # an HTML page with status 200
    also = invoke("search", "history")
    assert also.exit_code == ExitStatus.NETWORK
    assert also.stderr.startswith("podbrief: error: iTunes: the answer is not JSON (it starts '<!DOCTYPE html><html>")


def test_a_slow_directory_times_out(server, itunes, set_config):
    set_config(directory={"itunes_url": server.url("itunes/search")}, network={"timeout": 1})
    itunes("itunes-history.json", rate=0.2)  # one byte every five seconds
    started = time.monotonic()
    result = invoke("search", "history")
    assert result.exit_code == ExitStatus.NETWORK
    assert "timed out" in result.stderr
    assert time.monotonic() - started < 4


def test_a_429_with_a_short_retry_after_is_retried_once(server, itunes):
    itunes("itunes-history.json")
    server.route(f"itunes/search?{_query('history')}", status=429, headers={"Retry-After": "1"}, times=1)
    started = time.monotonic()
    result = invoke("search", "history")
    assert result.exit_code == 0, result.output
    assert "History Hour" in result.stdout
    assert len(server.requests) == 2
    assert time.monotonic() - started >= 1


@pytest.mark.parametrize("retry_after, wait", [("3600", "in 3600 s"), ("Wed, 01 Jan 2200 00:00:00 GMT", "in "),
                                               ("soon", "later"), (None, "later")])
def test_a_429_asking_for_a_long_wait_fails_at_once(server, itunes, retry_after, wait):
    server.route("itunes/search", status=429, headers={"Retry-After": retry_after} if retry_after else {})
    started = time.monotonic()
    result = invoke("search", "history")
    assert result.exit_code == ExitStatus.NETWORK
    assert f"HTTP 429 Too Many Requests (rate-limited: try again {wait}" in result.stderr
    assert len(server.requests) == 1
    assert time.monotonic() - started < 1


def test_a_second_429_is_not_retried_again(server, itunes):
    server.route("itunes/search", status=429, headers={"Retry-After": "0"})
    result = invoke("search", "history")
    assert result.exit_code == ExitStatus.NETWORK
    assert "rate-limited: try again in 0 s" in result.stderr
    assert len(server.requests) == 2


def test_hostile_titles_are_plain_text_and_bad_results_are_left_out(server, itunes):
    body = answer(server, "hostile.json").replace(b"LONGTITLE", b"A" * 5000)
    server.route("itunes/search", body=body, content_type="application/json")
    result = invoke("search", "--json", "x")
    assert result.exit_code == 0, result.output
    shows = {show["feed_url"].rsplit("/", 1)[1]: show for show in json.loads(result.stdout)["shows"]}
    assert sorted(shows) == ["bool.xml", "long.xml", "markup.xml", "newlines.xml"]
    assert shows["markup.xml"]["title"] == "[bold red]PWNED[/bold red] [link=file:///etc/passwd]click[/link]"
    assert shows["markup.xml"]["author"] == "[2J [31mred author [0m"  # escape characters gone
    assert shows["newlines.xml"] == {**shows["newlines.xml"], "title": "Line one Line two evil", "author": None,
                                     "episodes": None}
    assert len(shows["long.xml"]["title"]) == directory.MAX_TEXT and shows["long.xml"]["title"].endswith("…")
    assert (shows["long.xml"]["episodes"], shows["bool.xml"]["episodes"]) == (None, None)
    assert sorted(json.loads(result.stdout)["notes"]) == ["iTunes: left out 1 result(s): no title",
                                                         "iTunes: left out 1 result(s): not an object",
                                                         "iTunes: left out 4 result(s): no usable feed URL"]
    table = invoke("search", "x")
    assert table.exit_code == 0
    assert "[bold red]PWNED[/bold red]" in table.stdout  # shown literally, never parsed as markup
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e]", table.stdout)


def test_a_feed_url_on_a_private_address_is_left_out_unless_allowed(server, set_config, home):
    url = serve_feed(server, "private.xml", "Local Show")
    body = json.dumps({"resultCount": 1, "results": [
        {"collectionName": "Local Show", "artistName": "Me", "feedUrl": url},
        {"collectionName": "Loopback Six", "feedUrl": "http://[::1]/feed.xml"},
        {"collectionName": "Localhost", "feedUrl": "http://db.localhost./feed.xml"},
        {"collectionName": "Metadata", "feedUrl": "http://169.254.169.254/latest/meta-data"}]}).encode()
    server.route("itunes/search", body=body, content_type="application/json")
    set_config(directory={"itunes_url": server.url("itunes/search")}, network={"allow_private": False})
    listed = invoke("search", "--json", "local show")
    assert listed.exit_code == 0, listed.output  # the configured directory itself may be on 127.0.0.1
    assert json.loads(listed.stdout)["shows"] == []
    assert json.loads(listed.stdout)["notes"] == ["iTunes: left out 4 result(s): feed URL on a private address"]
    added = invoke("add", "local show")
    assert added.exit_code == ExitStatus.USAGE
    assert server.requests_to("private.xml") == []  # never followed
    assert subscribed_urls(home) == []
    set_config(directory={"itunes_url": server.url("itunes/search")}, network={"allow_private": True})
    assert invoke("add", "local show").exit_code == 0
    assert subscribed_urls(home) == [url]


def test_a_redirect_from_the_directory_to_a_private_address_is_refused(server, set_config):
    server.route("itunes/search", status=302, location="/elsewhere")
    server.route("elsewhere", body=b'{"results": []}', content_type="application/json")
    set_config(directory={"itunes_url": server.url("itunes/search")}, network={"allow_private": False})
    result = invoke("search", "history")
    assert result.exit_code == ExitStatus.NETWORK
    assert f"{server.url('elsewhere')}: refusing to connect to non-public address 127.0.0.1" in result.stderr
    assert server.requests_to("elsewhere") == []


# --- Podcast Index -------------------------------------------------------------------------


@pytest.fixture
def both(server, set_config, itunes):
    """iTunes and Podcast Index, both on the test server."""
    set_config(directory={"itunes_url": server.url("itunes/search"), "podcastindex_url": server.url("pi/byterm"),
                          "podcastindex_key": "KEY123", "podcastindex_secret": "s3cr3t$"})
    return itunes


def test_podcast_index_is_asked_with_its_auth_headers_and_merged(server, both):
    both("itunes-history.json")
    server.route("pi/byterm", body=answer(server, "podcastindex-history.json"), content_type="application/json")
    result = invoke("search", "--json", "history")
    assert result.exit_code == 0, result.output
    shows = json.loads(result.stdout)["shows"]
    assert [(show["title"], show["directory"]) for show in shows] == [
        ("History Hour", "iTunes"), ("Revolutions Revisited", "iTunes"), ("Ancient History Weekly", "iTunes"),
        ("Maps of the Past", "Podcast Index")]  # History Hour is in both (with a trailing /): listed once
    assert shows[-1]["author"] == "Cartography Club" and shows[-1]["episodes"] == 23
    [request] = server.requests_to("pi/byterm")
    assert parse_qs(request.query) == {"q": ["history"], "max": ["10"]}
    date = request.headers["x-auth-date"]
    assert request.headers["x-auth-key"] == "KEY123"
    assert abs(int(date) - time.time()) < 60
    assert request.headers["authorization"] == hashlib.sha1(f"KEY123s3cr3t${date}".encode()).hexdigest()


def test_one_directory_failing_still_lists_the_others_and_exits_6(server, both):
    both("itunes-history.json")
    server.route("pi/byterm", body=b'{"status": "false", "description": "Authorization header invalid"}',
                 content_type="application/json")
    result = invoke("search", "history")
    assert result.exit_code == ExitStatus.PARTIAL
    assert "History Hour" in result.stdout
    assert "warning: Podcast Index: Authorization header invalid" in result.stderr


def test_all_directories_failing_is_exit_4(server, both):
    server.route("itunes/search", status=500)
    server.route("pi/byterm", status=401)
    result = invoke("search", "history")
    assert result.exit_code == ExitStatus.NETWORK
    assert "HTTP 500" in result.stderr and "HTTP 401" in result.stderr


def test_a_key_without_a_secret_is_a_config_error(set_config):
    set_config(directory={"podcastindex_key": "KEY123"})
    result = invoke("search", "history")
    assert result.exit_code == ExitStatus.CONFIG
    assert "directory.podcastindex_key and directory.podcastindex_secret go together" in result.stderr


def test_a_directory_url_that_is_not_http_is_a_config_error(set_config):
    set_config(directory={"itunes_url": "file:///etc/passwd"})
    result = invoke("search", "history")
    assert result.exit_code == ExitStatus.CONFIG
    assert "directory.itunes_url: expected an http(s) URL" in result.stderr


# --- add "name" ----------------------------------------------------------------------------


def test_add_a_name_with_one_match_subscribes(server, itunes, home):
    itunes("itunes-lex.json")
    url = serve_feed(server, "lex.xml", "Lex Fridman Podcast")
    result = invoke("add", "lex fridman")
    assert result.exit_code == 0, result.output
    assert result.stderr == f"Subscribed to Lex Fridman Podcast (feed {short_hash(url)}).\n"
    assert subscribed_urls(home) == [url]
    assert [request.path for request in server.requests] == ["/itunes/search", "/lex.xml"]


def test_add_a_name_that_is_exactly_one_of_many_titles_subscribes(server, itunes, home):
    itunes("itunes-history.json")
    url = serve_feed(server, "revolutions.xml", "Revolutions Revisited")
    assert invoke("add", "the revolutions revisited podcast").exit_code == 0
    assert subscribed_urls(home) == [url]


def test_add_an_ambiguous_name_without_a_terminal_lists_the_matches(server, itunes, home):
    itunes("itunes-history.json")
    result = invoke("add", "history")
    assert result.exit_code == ExitStatus.USAGE
    assert result.stderr == (
        "podbrief: error: 'history' matches 3 shows; run `podbrief add FEED_URL` with one of: "
        f"History Hour (Ana Ortega): {server.url('history-hour.xml')}; "
        f"Revolutions Revisited (The Archive Collective): {server.url('revolutions.xml')}; "
        f"Ancient History Weekly (Sam Lee): {server.url('ancient.xml')}\n")
    assert subscribed_urls(home) == []
    assert [request.path for request in server.requests] == ["/itunes/search"]


def _query(terms: str) -> str:
    """The query string of an iTunes search for `terms` (for routes that answer that one search)."""
    return urlencode({"term": terms, "media": "podcast", "entity": "podcast", "limit": 10})


def run_on_a_terminal(home: Path, args: list[str], answers: list[bytes], timeout: float = 30) -> tuple[int, str]:
    """Run podbrief in a pseudo-terminal; type each answer when the prompt appears. Returns (status, output)."""
    main, secondary = pty.openpty()
    env = {**os.environ, "PODBRIEF_HOME": str(home), "COLUMNS": "160", "TERM": "xterm", "PYTHONIOENCODING": "utf-8"}
    process = subprocess.Popen([sys.executable, "-m", "podbrief", *args], stdin=secondary, stdout=secondary,
                               stderr=secondary, env=env, close_fds=True)
    os.close(secondary)
    output = b""
    deadline = time.monotonic() + timeout
    pending = list(answers)
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(main, 4096)
                except OSError:  # the process closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
                if pending and output.count(b"Subscribe to which show?") > len(answers) - len(pending):
                    os.write(main, pending.pop(0))
            elif process.poll() is not None:
                break
        status = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(main)
        if process.poll() is None:
            process.kill()
    return status, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode("utf-8", "replace"))


def test_add_an_ambiguous_name_on_a_terminal_asks_which(server, itunes, home):
    itunes("itunes-history.json")
    url = serve_feed(server, "revolutions.xml", "Revolutions Revisited")
    status, output = run_on_a_terminal(home, ["add", "history"], [b"7\r", b"2\r"])  # 7 is not offered
    assert status == 0, output
    assert re.search(r"1 +│ History Hour +│ Ana Ortega +│ 312", output)
    assert re.search(r"2 +│ Revolutions Revisited", output)
    assert "Please select one of the available options" in output
    assert f"Subscribed to Revolutions Revisited (feed {short_hash(url)})." in output
    assert subscribed_urls(home) == [url]


def test_add_on_a_terminal_subscribes_nothing_when_the_answer_is_empty(server, itunes, home):
    itunes("itunes-history.json")
    status, output = run_on_a_terminal(home, ["add", "history"], [b"\r"])
    assert status == ExitStatus.USAGE, output
    assert "podbrief: error: no show chosen: nothing subscribed" in output
    assert subscribed_urls(home) == []


def test_add_with_a_url_still_takes_the_url(server, itunes, home):
    url = serve_feed(server, "feed.xml", "Show")
    assert invoke("add", url).exit_code == 0
    assert subscribed_urls(home) == [url]
    assert server.requests_to("itunes/search") == []


# --- suggest -------------------------------------------------------------------------------


def test_suggest_searches_each_interest_and_leaves_out_followed_shows(server, itunes, set_config, home):
    set_config(directory={"itunes_url": server.url("itunes/search")},
               rank={"interests": {"history": 2.0, "maps": 1.0, "knitting": 0.5}})
    server.route(f"itunes/search?{_query('history')}", body=answer(server, "itunes-history.json"))
    maps = {"resultCount": 4, "results": [
        {"collectionName": "Maps of the Past", "artistName": "Cartography Club", "trackCount": 23,
         "feedUrl": server.url("maps.xml")},
        {"collectionName": "History Hour", "feedUrl": server.url("history-hour.xml/")},
        {"collectionName": "Ancient History Weekly", "feedUrl": server.url("ancient.xml").replace("http:", "https:")},
        {"collectionName": "Revolutions Revisited", "feedUrl": server.url("old-revolutions.xml")}]}
    server.route(f"itunes/search?{_query('maps')}", body=json.dumps(maps).encode())
    server.route(f"itunes/search?{_query('knitting')}", body=answer(server, "itunes-none.json"))
    assert invoke("add", serve_feed(server, "ancient.xml", "Ancient History Weekly")).exit_code == 0
    serve_feed(server, "revolutions.xml", "Revolutions Revisited")
    server.route("old-revolutions.xml", status=301, location="/revolutions.xml")
    assert invoke("add", server.url("old-revolutions.xml")).exit_code == 0  # followed at its new address
    server.clear_log()
    result = invoke("suggest", "--json")
    assert result.exit_code == 0, result.output
    topics = {entry["topic"]: [show["title"] for show in entry["shows"]] for entry in json.loads(result.stdout)["topics"]}
    assert topics == {"history": ["History Hour"],  # the other two are followed
                      "knitting": [],
                      "maps": ["Maps of the Past"]}  # History Hour was suggested above; the rest are followed
    terms = [parse_qs(request.query)["term"] for request in server.requests]
    assert terms == [["history"], ["knitting"], ["maps"]]  # the config's order (the test config is sorted)
    assert sorted(subscribed_urls(home)) == [server.url("ancient.xml"), server.url("revolutions.xml")]  # no more
    table = invoke("suggest")
    assert table.exit_code == 0
    assert re.search(r"maps +│ Maps of the Past +│ Cartography Club +│ 23", table.stdout)
    assert "Nothing new for: knitting" in table.stderr


def test_suggest_reports_a_failed_topic_and_exits_6(server, itunes, set_config):
    set_config(directory={"itunes_url": server.url("itunes/search")}, rank={"interests": {"history": 1, "maps": 1}})
    server.route(f"itunes/search?{_query('history')}", body=answer(server, "itunes-history.json"))
    server.route(f"itunes/search?{_query('maps')}", status=500)
    result = invoke("suggest")
    assert result.exit_code == ExitStatus.PARTIAL
    assert "History Hour" in result.stdout
    assert "warning: maps: " in result.stderr and "HTTP 500" in result.stderr


def test_suggest_without_interests_says_how_to_set_them(itunes):
    result = invoke("suggest")
    assert result.exit_code == ExitStatus.USAGE
    assert "set rank.interests" in result.stderr


# --- matching (fast logic) -----------------------------------------------------------------


def show(title: str, author: str | None = None) -> directory.Show:
    return directory.Show(short_hash(title), title, author, None, f"https://example.com/{short_hash(title)}", "iTunes")


@pytest.mark.parametrize("query, titles, expected", [
    ("lex fridman", ["Lex Fridman Podcast", "Lex Fridman Clips"], "Lex Fridman Podcast"),
    ("The Daily", ["The Daily", "Daily Boost"], "The Daily"),
    ("daily", ["The Daily", "Daily Boost"], "The Daily"),
    ("hard fork", ["Hard Fork!"], "Hard Fork!"),
    ("fridman", ["Lex Fridman Podcast"], "Lex Fridman Podcast"),  # the only result, and it has the word
    ("history", ["The Rest Is History", "History Extra"], None),  # neither title is just "history"
    ("daily", ["The Daily", "Daily"], None),  # two titles equal the name
    ("cooking", ["Knitting Today"], None),  # one result, but not what was asked for
])
def test_clear_match(query, titles, expected):
    match = directory.clear_match(query, [show(title) for title in titles])
    assert (match.title if match else None) == expected


def test_a_single_result_matches_on_its_author_too():
    assert directory.clear_match("ana ortega", [show("History Hour", "Ana Ortega")]) is not None
