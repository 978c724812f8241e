"""Subscriptions and the fetch stage, through the CLI, against a real local HTTP server."""

from __future__ import annotations

import json
import re

import pytest
from support.localserver import item, rss
from support.recorder import Recorder
from typer.testing import CliRunner

from podbrief import config as configmod
from podbrief.cli import app
from podbrief.errors import ExitStatus
from podbrief.stages import Budget
from podbrief.stages.fetch import run_pending
from podbrief.store import Index, Paths, read_json, run_lock

runner = CliRunner()


def podbrief(*args: str):
    return runner.invoke(app, list(args))


def publish(server, name: str, count: int, *, first: int = 1, extra: str = "", title: str | None = None) -> str:
    """Serve `name`.xml with episodes first..first+count-1 (newest last), each with its own audio file."""
    items = []
    for number in range(first, first + count):
        audio = f"{name}-{number}".encode() * 5000
        url = server.add(f"{name}-{number}.mp3", audio)
        items.append(item(f"{name} episode {number}", f"{name}-{number}", audio_url=url, length=len(audio),
                          published=f"Mon, {number:02d} Jan 2025 06:00:00 GMT"))
    return server.add(f"{name}.xml", rss(title or name, items, extra))


def episodes(home) -> list[dict]:
    return sorted((read_json(path) for path in home.glob("episodes/*/episode.json")), key=lambda e: e["title"])


def feed_record(home) -> dict:
    (path,) = home.glob("feeds/*.json")
    return read_json(path)


def test_add_then_fetch_downloads_exactly_the_new_episodes(server, home):
    url = publish(server, "show", 5)
    added = podbrief("add", url)
    assert added.exit_code == 0, added.stderr
    assert "Subscribed to show" in added.stderr
    assert episodes(home) == []  # add only checks the feed

    server.clear_log()
    first = podbrief("fetch")
    assert first.exit_code == 0, first.stderr
    # First fetch: the latest three (fetch.backfill), each downloaded once, complete.
    assert [e["title"] for e in episodes(home)] == ["show episode 3", "show episode 4", "show episode 5"]
    assert sorted(r.path for r in server.requests) == ["/show-3.mp3", "/show-4.mp3", "/show-5.mp3", "/show.xml"]
    for meta in episodes(home):
        number = meta["title"].split()[-1]
        audio = home / "episodes" / meta["id"] / meta["audio_file"]
        assert audio.read_bytes() == f"show-{number}".encode() * 5000
        assert meta["fetched_at"] and meta["show"] == "show" and meta["audio_file"] == "audio.mp3"
    with Index(Paths(home)) as index:
        assert index.pending("fetch") == []
        assert len(index.pending("transcribe")) == 3
    assert "Checked 1 feed(s): 3 new episode(s), 3 downloaded." in first.stderr

    # A new episode appears: only it is downloaded.
    publish(server, "show", 6)
    server.clear_log()
    second = podbrief("fetch")
    assert second.exit_code == 0, second.stderr
    assert [r.path for r in server.requests if r.path.endswith(".mp3")] == ["/show-6.mp3"]
    assert len(episodes(home)) == 4


def test_a_rerun_downloads_nothing_and_makes_only_conditional_requests(server, home):
    urls = [publish(server, f"show{n}", 2) for n in range(3)]
    for url in urls:
        assert podbrief("add", url).exit_code == 0
    assert podbrief("fetch").exit_code == 0
    before = {path: path.stat().st_mtime_ns for path in home.glob("episodes/*/*")}
    server.clear_log()
    rerun = podbrief("fetch", "--json")
    assert rerun.exit_code == 0, rerun.stderr
    assert sorted(r.path for r in server.requests) == ["/show0.xml", "/show1.xml", "/show2.xml"]
    assert all("if-none-match" in r.headers and "if-modified-since" in r.headers for r in server.requests)
    report = json.loads(rerun.stdout)
    assert report["done"] == [] and report["failed"] == {}
    assert [feed["status"] for feed in report["feeds"]] == ["not modified"] * 3
    assert {path: path.stat().st_mtime_ns for path in home.glob("episodes/*/*")} == before


def test_fetch_json_reports_what_was_found_and_downloaded(server, home):
    podbrief("add", publish(server, "show", 2))
    result = podbrief("fetch", "--json")
    report = json.loads(result.stdout)
    (feed,) = report["feeds"]
    assert feed["status"] == "ok" and feed["title"] == "show"
    assert [e["title"] for e in feed["new"]] == ["show episode 2", "show episode 1"]
    assert sorted(report["done"]) == sorted(e["id"] for e in feed["new"])


def test_backfill_is_configurable(server, home, set_config):
    set_config(fetch={"backfill": 1})
    podbrief("add", publish(server, "show", 4))
    assert podbrief("fetch").exit_code == 0
    assert [e["title"] for e in episodes(home)] == ["show episode 4"]
    # Older episodes are remembered as seen, not fetched later.
    publish(server, "show", 5)
    assert podbrief("fetch").exit_code == 0
    assert [e["title"] for e in episodes(home)] == ["show episode 4", "show episode 5"]


def test_fetch_one_feed_by_id_or_url(server, home):
    podbrief("add", publish(server, "one", 1))
    podbrief("add", url := publish(server, "two", 1))
    server.clear_log()
    assert podbrief("fetch", url).exit_code == 0
    assert {r.path for r in server.requests} == {"/two.xml", "/two-1.mp3"}
    unknown = podbrief("fetch", "nope")
    assert unknown.exit_code == ExitStatus.USAGE
    assert "no subscription matches 'nope'" in unknown.stderr


def test_add_refuses_what_is_not_a_feed_and_saves_nothing(server, home):
    server.add("feed.pdf", b"%PDF-1.4\n%binary")
    result = podbrief("add", server.url("feed.pdf"))
    assert result.exit_code == ExitStatus.INPUT
    assert result.stderr.strip().endswith("not an RSS or Atom feed (it is a PDF document)")
    assert not list(home.glob("feeds/*"))


def test_add_reports_http_errors_and_duplicates(server, home):
    missing = podbrief("add", server.url("missing.xml"))
    assert missing.exit_code == ExitStatus.NETWORK
    assert missing.stderr == f"podbrief: error: {server.url('missing.xml')}: HTTP 404 Not Found\n"
    url = publish(server, "show", 1)
    assert podbrief("add", url, "--name", "My name").exit_code == 0
    again = podbrief("add", url)
    assert again.exit_code == ExitStatus.USAGE
    assert "already subscribed" in again.stderr
    assert feed_record(home)["name"] == "My name"


@pytest.mark.parametrize("status, state, message", [
    (404, "gone", "feed gone: {url}: HTTP 404 Not Found"),
    (410, "gone", "feed gone: {url}: HTTP 410 Gone"),
    (500, "error", "{url}: HTTP 500 Internal Server Error"),
])
def test_a_failing_feed_is_reported_and_the_others_still_finish(server, home, status, state, message):
    bad = publish(server, "bad", 1)
    podbrief("add", bad)
    podbrief("add", publish(server, "good", 1))
    server.route("bad.xml", status=status)
    result = podbrief("fetch")
    assert result.exit_code == ExitStatus.PARTIAL
    assert message.format(url=bad) in result.stderr
    assert "1 feed(s) and 0 episode(s) failed" in result.stderr
    assert [e["title"] for e in episodes(home)] == ["good episode 1"]
    listed = json.loads(podbrief("feeds", "--json").stdout)
    assert sorted((feed["title"], feed["last_status"]) for feed in listed) == [("bad", state), ("good", "ok")]
    # The feed stays subscribed; when it comes back it is fetched normally.
    server.unroute("bad.xml")
    assert podbrief("fetch").exit_code == 0
    assert [e["title"] for e in episodes(home)] == ["bad episode 1", "good episode 1"]


def test_a_permanent_redirect_updates_the_url_and_keeps_the_feed_id(server, home):
    old = publish(server, "show", 1)
    podbrief("add", old)
    feed_id = feed_record(home)["id"]
    new = publish(server, "moved", 1, title="show")
    server.route("show.xml", status=301, location="/moved.xml")
    result = podbrief("fetch")
    assert result.exit_code == 0, result.stderr
    assert f"moved permanently to {new}" in result.stderr
    record = feed_record(home)
    assert (record["id"], record["url"]) == (feed_id, new)
    server.clear_log()
    podbrief("fetch")
    assert [r.path for r in server.requests] == ["/moved.xml"]
    assert podbrief("remove", old).exit_code == 0  # the original URL still names the feed


def test_itunes_new_feed_url_moves_the_subscription(server, home):
    new = publish(server, "new", 1)
    podbrief("add", publish(server, "old", 1, extra=f"<itunes:new-feed-url>{new}</itunes:new-feed-url>"))
    result = podbrief("fetch")
    assert f"the publisher moved this feed to {new}" in result.stderr
    assert feed_record(home)["url"] == new
    server.clear_log()
    podbrief("fetch")
    assert server.requests[0].path == "/new.xml"


def test_markup_in_feed_text_is_printed_literally(server, home):
    audio = server.add("a.mp3", b"x" * 100)
    podbrief("add", server.add("feed.xml", rss("[bold red]Show[/bold red]", [
        item("[bold red]Episode[/bold red] [link=file:///etc]x[/link]", "g", audio_url=audio)])))
    fetched = podbrief("fetch")
    assert "new [bold red]Show[/bold red]: [bold red]Episode[/bold red] [link=file:///etc]x[/link]" in fetched.stderr
    listed = runner.invoke(app, ["feeds"], env={"COLUMNS": "200"})
    assert "[bold red]Show[/bold red]" in listed.stdout


def test_hostile_titles_and_urls_never_become_paths(server, home):
    audio = server.add("evil.mp3", b"audio" * 100)
    podbrief("add", server.add("feed.xml", rss("../../etc/passwd", [
        item("../../etc/passwd", "../../../tmp/evil", audio_url=audio + "?name=../../x.sh"),
        item("/etc/shadow", "/abs", audio_url=server.url("evil.mp3/..%2F..%2Fy")),
    ])))
    assert podbrief("fetch").exit_code == ExitStatus.PARTIAL  # the second URL is a 404
    names = sorted(str(path.relative_to(home)) for path in home.rglob("*") if path.is_file())
    pattern = re.compile(r"(config\.yaml|index\.sqlite.*|run\.lock|feeds/[0-9a-f]{16}\.json|"
                         r"episodes/[0-9a-f]{16}/(episode\.json|audio\.mp3))")
    assert all(pattern.fullmatch(name) for name in names), names
    assert len([name for name in names if name.endswith("audio.mp3")]) == 1


def test_truncated_audio_fails_the_episode_and_the_next_run_resumes(server, home):
    url = publish(server, "show", 1)
    podbrief("add", url)
    server.route("show-1.mp3", close_after=1000)
    failed = podbrief("fetch")
    assert failed.exit_code == ExitStatus.PARTIAL
    assert "connection closed early" in failed.stderr
    (meta,) = episodes(home)
    folder = home / "episodes" / meta["id"]
    assert meta["fetched_at"] is None and meta["audio_file"] is None
    assert sorted(path.name for path in folder.iterdir()) == ["audio.mp3.partial", "audio.mp3.partial.validator",
                                                               "episode.json"]
    with Index(Paths(home)) as index:
        assert index.episode(meta["id"])["failed_stage"] == "fetch"
    server.unroute("show-1.mp3")
    server.clear_log()
    resumed = podbrief("fetch")
    assert resumed.exit_code == 0, resumed.stderr
    assert server.requests_to("show-1.mp3")[0].headers["range"] == "bytes=1000-"
    assert (folder / "audio.mp3").read_bytes() == b"show-1" * 5000
    with Index(Paths(home)) as index:
        assert index.episode(meta["id"])["failed_stage"] is None


def test_audio_over_the_cap_fails_that_episode_only(server, home, set_config):
    set_config(network={"audio_max_bytes": 20_000})
    podbrief("add", server.add("feed.xml", rss("show", [
        item("small", "a", audio_url=server.add("small.mp3", b"s" * 10_000)),
        item("big", "b", audio_url=server.add("big.mp3", b"b" * 50_000)),
    ])))
    result = podbrief("fetch")
    assert result.exit_code == ExitStatus.PARTIAL
    assert f"{server.url('big.mp3')}: larger than the 0.02 MB audio cap" in result.stderr
    big, small = episodes(home)
    assert small["fetched_at"] and not big["fetched_at"]
    assert not list((home / "episodes" / big["id"]).glob("audio*"))


def test_duplicate_guids_and_missing_enclosures_are_noted(server, home):
    audio = server.add("a.mp3", b"a" * 100)
    podbrief("add", server.add("feed.xml", rss("show", [
        item("first", "same", audio_url=audio), item("copy", "same", audio_url=audio),
        item("text only", "t"), item("a pdf", "p", audio_url=audio, audio_type="application/pdf"),
    ])))
    result = podbrief("fetch")
    assert result.exit_code == 0
    assert "repeat an earlier GUID; kept the first" in result.stderr
    assert "neither audio nor a transcript; skipped" in result.stderr
    assert "no audio in a supported format and no transcript; skipped" in result.stderr
    assert [e["title"] for e in episodes(home)] == ["first"]


def test_publisher_transcripts_and_chapters_are_downloaded(server, home):
    vtt = server.add("t.vtt", b"WEBVTT\n\n00:00.000 --> 00:01.000\n<v Ann>Hello\n")
    json_transcript = server.add("t.json", b'{"version": "1.0.0", "segments": []}')
    chapters = server.add("c.json", b'{"version": "1.2.0", "chapters": []}')
    tags = (f'<podcast:transcript url="{vtt}" type="text/vtt" language="en"/>'
            f'<podcast:transcript url="{json_transcript}" type="application/json"/>'
            f'<podcast:chapters url="{chapters}" type="application/json+chapters"/>'
            '<podcast:person role="guest">Bob Guest</podcast:person>')
    only_text = f'<podcast:transcript url="{vtt}" type="text/vtt"/>'
    podbrief("add", server.add("feed.xml", rss("show", [
        item("with audio", "a", audio_url=server.add("a.mp3", b"a" * 100), extra=tags),
        item("transcript only", "b", extra=only_text),
    ])))
    assert podbrief("fetch").exit_code == 0
    transcript_only, with_audio = episodes(home)
    folder = home / "episodes" / with_audio["id"]
    assert with_audio["transcripts"][1]["file"] == "publisher-transcript.json"  # JSON is preferred
    assert with_audio["transcripts"][0]["file"] is None
    assert (folder / "publisher-transcript.json").read_bytes() == b'{"version": "1.0.0", "segments": []}'
    assert (folder / "chapters.json").exists() and with_audio["chapters_file"] == "chapters.json"
    assert with_audio["persons"] == [{"name": "Bob Guest", "role": "guest"}]
    assert transcript_only["audio_file"] is None and transcript_only["fetched_at"]
    assert transcript_only["transcripts"][0]["file"] == "publisher-transcript.vtt"


def test_a_missing_transcript_is_a_note_when_there_is_audio(server, home):
    tag = f'<podcast:transcript url="{server.url("gone.vtt")}" type="text/vtt"/>'
    podbrief("add", server.add("feed.xml", rss("show", [
        item("with audio", "a", audio_url=server.add("a.mp3", b"a" * 100), extra=tag),
        item("transcript only", "b", extra=tag)])))
    result = podbrief("fetch")
    assert result.exit_code == ExitStatus.PARTIAL
    assert "note with audio: transcript:" in result.stderr
    assert "no audio, and no publisher transcript could be downloaded" in result.stderr
    with_audio = next(e for e in episodes(home) if e["title"] == "with audio")
    assert with_audio["fetched_at"] and with_audio["transcripts"][0]["file"] is None


def test_transcripts_can_be_turned_off(server, home, set_config):
    set_config(fetch={"transcripts": False})
    tag = f'<podcast:transcript url="{server.add("t.vtt", b"WEBVTT")}" type="text/vtt"/>'
    podbrief("add", server.add("feed.xml", rss("show", [
        item("ep", "a", audio_url=server.add("a.mp3", b"a" * 100), extra=tag)])))
    server.clear_log()
    assert podbrief("fetch").exit_code == 0
    assert [r.path for r in server.requests] == ["/feed.xml", "/a.mp3"]


def test_a_second_concurrent_fetch_is_locked(server, home):
    podbrief("add", publish(server, "show", 1))
    with run_lock(Paths(home)):
        for command in (["fetch"], ["add", server.url("x.xml")], ["remove", "x"]):
            result = podbrief(*command)
            assert result.exit_code == ExitStatus.LOCKED
            assert "another podbrief run is in progress" in result.stderr
    assert episodes(home) == []


def test_quiet_fetch_prints_nothing(server, home):
    podbrief("add", publish(server, "show", 1))
    result = podbrief("--quiet", "fetch")
    assert result.exit_code == 0
    assert result.stderr == "" and result.stdout == ""


def test_remove_and_list(server, home):
    podbrief("add", one := publish(server, "one", 1))
    podbrief("add", publish(server, "two", 1))
    assert podbrief("fetch").exit_code == 0
    listed = sorted(json.loads(podbrief("feeds", "--json").stdout), key=lambda feed: feed["title"])
    assert [(f["title"], f["episodes"], f["fetched"], f["last_status"]) for f in listed] == [
        ("one", 1, 1, "ok"), ("two", 1, 1, "ok")]
    assert "seen" not in listed[0]
    assert podbrief("remove", listed[1]["id"]).exit_code == 0
    assert podbrief("remove", one).exit_code == 0
    assert json.loads(podbrief("feeds", "--json").stdout) == []
    assert len(episodes(home)) == 2  # downloaded episodes are kept
    assert podbrief("remove", one).exit_code == ExitStatus.USAGE


def test_the_time_budget_leaves_downloads_for_the_next_run(server, home):
    podbrief("add", publish(server, "show", 2))
    paths = Paths(home)
    config = configmod.load(paths.config_file)
    first = Recorder()
    report = run_pending(paths, config, first, budget=Budget(deadline=0))
    assert (len(report.feeds[0].new), report.done, report.remaining) == (2, [], 2)
    assert len(first.said("new")) == 2 and not first.said("downloaded") and not first.bars_made
    later = Recorder()
    assert len(run_pending(paths, config, later).done) == 2
    assert len(later.said("downloaded")) == 2 and later.open_blocks == 0
    assert [bar.unit for bar in later.bars_made] == ["bytes", "bytes"] and all(bar.closed for bar in later.bars_made)
    assert all(bar.updates[-1][0] == bar.updates[-1][1] for bar in later.bars_made)  # each ran to its end



def test_fetch_without_subscriptions_says_how_to_add_one(home):
    result = podbrief("fetch")
    assert result.exit_code == 0
    assert "No subscriptions yet: add one with `podbrief add URL`." in result.stderr


def test_imported_feeds_take_their_title_from_the_feed(server, home, tmp_path):
    subscriptions = tmp_path / "subs.opml"
    subscriptions.write_text(f'<opml><body><outline xmlUrl="{publish(server, "show", 1, title="Real title")}"/>'
                             "</body></opml>")
    assert podbrief("import", str(subscriptions)).exit_code == 0
    assert podbrief("fetch").exit_code == 0
    assert [e["show"] for e in episodes(home)] == ["Real title"]
    assert feed_record(home)["title"] == "Real title"
