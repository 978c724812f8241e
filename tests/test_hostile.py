"""Hostile inputs and faults from the outside reliability sweep (issue 12), one section per case.

Each test names the case it covers; the next sweep adds its cases here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import pty
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from support.briefdata import free_port
from support.localserver import item, rss
from support.smtpserver import smtp  # noqa: F401 - a fixture
from test_today import FakeStages
from test_transcribe import add_episode
from typer.testing import CliRunner

from podbrief import briefs, model_registry, store
from podbrief.cli import app
from podbrief.engines import whisper
from podbrief.engines.whisper import Window
from podbrief.errors import ExitStatus
from podbrief.formats.transcripts import Segment
from podbrief.stages import today
from podbrief.store import Index, Paths, read_json

# --- 1. transcribe must only write segments that satisfy the transcript's invariants ----------


def _layout(rng: random.Random) -> list[Window]:
    """Windows as speech_windows makes them: in order, apart or touching (no VAD), each at most 30 s."""
    windows, cursor = [], rng.uniform(0, 5)
    for _ in range(rng.randint(1, 12)):
        start = cursor + rng.choice([0.0, rng.uniform(0.1, 40)])
        end = start + rng.choice([0.1, 0.25, rng.uniform(0.3, 30), 30.0])
        windows.append(Window(round(start, 3), round(end, 3)))
        cursor = end
    return windows


def _wild_time(rng: random.Random, window: Window) -> float:
    """A decoder time: usually inside the window, sometimes at its edges, before it or past it."""
    return rng.choice([rng.uniform(window.start, window.end), window.start, window.end,
                       window.end + rng.uniform(0, 2), window.start - rng.uniform(0, 2), rng.uniform(0, 30)])


def _raw(rng: random.Random, group: list[Window], offset: float, batched: bool) -> list[SimpleNamespace]:
    """What faster-whisper may return for `group`: segments with collapsed, backward and out-of-window times."""
    raw = []
    for number, window in enumerate(group):
        for piece in range(rng.randint(1 if batched else 0, 4)):
            start = _wild_time(rng, window)
            end = rng.choice([start, start - rng.uniform(0, 1), _wild_time(rng, window)])
            raw.append(SimpleNamespace(start=start - offset, end=end - offset, text=f"w{number}p{piece}",
                                       seek=int((window.start - offset) * 100), no_speech_prob=0.0, avg_logprob=0.0))
    return raw


class _Decoder:
    """faster-whisper's two entry points, answering with the segments given (a fast logic test; the real
    model on a real two-voice interview: tests/test_transcribe.py)."""

    def __init__(self) -> None:
        self.raw: list[SimpleNamespace] = []
        self.hf_tokenizer = SimpleNamespace(token_to_id=lambda token: 50362)

    def transcribe(self, audio: np.ndarray, **options: object) -> tuple[list[SimpleNamespace], None]:
        return self.raw, None


@pytest.mark.parametrize("batch_size", [8, 1])
def test_decoded_segments_keep_the_transcript_invariants_for_any_window_layout(batch_size: int) -> None:
    decoder = _Decoder()
    engine = object.__new__(whisper.WhisperEngine)  # the engine without loading a model
    engine.settings, engine.model, engine.pipeline = whisper.Settings(batch_size=batch_size), decoder, decoder
    rng = random.Random(12)
    for _ in range(3000):
        group = _layout(rng)
        decoder.raw = _raw(rng, group, group[0].start, batch_size > 1)
        # the whole episode's audio, or only the stretch from the group on (a split episode's part)
        origin = rng.choice([0, int(group[0].start * whisper.SAMPLE_RATE)])
        clip = whisper.Clip(np.zeros(int(group[-1].end * whisper.SAMPLE_RATE) + 1 - origin, np.float32), origin)
        found = engine._decode(clip, group, "en")
        segments = [seg for per_window in found for seg in per_window]
        for window, per_window in zip(group, found):  # transcripts keep times to 1 ms
            assert all(window.start <= seg.start and round(seg.start, 3) < round(seg.end, 3) and seg.end <= window.end
                       for seg in per_window), (group, decoder.raw)
        bounds = [t for seg in segments for t in (seg.start, seg.end)]
        assert bounds == sorted(bounds), (group, decoder.raw)
        # no words lost, none reordered
        assert " ".join(seg.text for seg in segments).split() == [seg.text for seg in decoder.raw]
        if batch_size > 1:  # one segment per window, spanning the speech VAD found
            assert [(s.start, s.end) for s in segments] == [(w.start, w.end) for w in group]


def test_fitting_keeps_good_timestamps_and_joins_timeless_segments_to_their_neighbour() -> None:
    window = Window(700.0, 714.16)
    pieces = [Segment(700.5, 705.0, "a"), Segment(705.0, 705.0, "b"),
              Segment(706.0, 710.0, "c", flags=("repetition",)), Segment(714.32, 714.16, "d")]
    assert whisper.fit_segments(window, pieces) == [
        Segment(700.5, 705.0, "a b"), Segment(706.0, 714.16, "c d", flags=("repetition",))]
    # the issue's case: a segment past the window's end, alone
    assert whisper.fit_segments(window, [Segment(714.32, 714.16, "d")]) == [
        Segment(700.0, 714.16, "d")]


# --- feeds: shared helpers --------------------------------------------------------------------

runner = CliRunner()


def podbrief(*args: str):
    return runner.invoke(app, list(args))


def titles(home: Path) -> list[str]:
    return sorted(read_json(path)["title"] for path in home.glob("episodes/*/episode.json"))


def publish(server, name: str, *, title: str | None = None, enclosure: str | None = None,
            published: str = "Mon, 06 Jan 2025 06:00:00 GMT", declaration: str = "", extra: str = "") -> str:
    """Serve `name`.xml with one episode; `enclosure` replaces its audio URL, `declaration` its XML declaration."""
    audio = server.add(f"{name}.mp3", name.encode() * 1000)
    feed = rss(title or name, [item(f"{name} episode", f"{name}-1", audio_url=enclosure or audio, published=published)],
               extra)
    if declaration:
        feed = feed.replace(b'<?xml version="1.0" encoding="UTF-8"?>', declaration.encode())
    return server.add(f"{name}.xml", feed)


# --- 4. one bad feed must not abort the whole fetch -----------------------------------------------


@pytest.mark.parametrize(("feed", "message"), [
    ({"declaration": '<?xml version="1.0" encoding="x-bogus"?>'}, "bad.xml: not a readable feed (unknown encoding: x-bogus)"),
    ({"enclosure": "http://xn--/a.mp3"}, "http://xn--/a.mp3: not a usable URL"),
    ({"enclosure": "http://127.0.0.1/" + "a" * 70_000 + ".mp3"}, "not a usable URL"),
])
def test_one_bad_feed_fails_alone_and_is_named(server, home: Path, feed: dict, message: str) -> None:
    podbrief("add", publish(server, "good"))
    bad = publish(server, "bad")
    podbrief("add", bad)
    publish(server, "bad", **feed)
    result = podbrief("fetch")
    assert result.exit_code == ExitStatus.PARTIAL, result.output
    assert "good episode" in titles(home)
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("failed")]
    assert message in line and len(line) < 1000


# --- 2. a pubDate before year 1000 ------------------------------------------------------------


@pytest.fixture
def fakes(home: Path, monkeypatch: pytest.MonkeyPatch) -> FakeStages:
    """transcribe, extract and rank as tests/test_today.py fakes them; fetch is real."""
    stages = FakeStages(Paths(home))
    monkeypatch.setattr(today, "Pipeline", stages.pipeline)
    return stages


def test_a_pubdate_before_year_1000_is_no_date_and_today_still_works(server, home: Path, fakes) -> None:
    podbrief("add", publish(server, "old", published="Mon, 01 Jan 0001 00:00:00 GMT"))
    result = podbrief("today", "--json")
    assert result.exit_code == 0, result.output
    (meta,) = [read_json(path) for path in home.glob("episodes/*/episode.json")]
    assert meta["published"] is None  # undated: in the window because podbrief first saw it today
    assert json.loads(result.stdout)["items"][0]["insight"]["episode"]["title"] == "old episode"
    # an index written by an older podbrief holds the stamp it made then: today goes on working
    with Index(Paths(home)) as index:
        index.conn.execute("UPDATE episodes SET published = '1-01-01T00:00:00Z'")
    assert podbrief("today").exit_code == ExitStatus.NOTHING_NEW


# --- 3. a feed moved onto a URL already subscribed ----------------------------------------------


def feed_records(home: Path) -> dict[str, dict]:
    """{title the feed was added with: its record}."""
    return {record["title"]: record for record in map(read_json, home.glob("feeds/*.json"))}


def test_a_301_onto_a_subscribed_url_is_refused_and_names_both_feeds(server, home: Path) -> None:
    podbrief("add", publish(server, "popular"))
    hostile = publish(server, "hostile")
    podbrief("add", hostile)
    server.route("hostile.xml", status=301, location="/popular.xml")
    result = podbrief("fetch")
    assert result.exit_code == ExitStatus.PARTIAL, result.output
    records = feed_records(home)
    popular, moved = records["popular"], records["hostile"]
    assert (f"moved permanently to {popular['url']}, which is already subscribed as feed {popular['id']}: "
            f"move refused (if it is the same show: podbrief remove {moved['id']})") in result.stderr
    assert moved["url"] == hostile and moved["last_status"] == "error"
    assert titles(home) == ["popular episode"]  # the popular show's episodes are not recorded twice
    assert podbrief("reindex").exit_code == 0
    assert podbrief("feeds").exit_code == 0


def test_itunes_new_feed_url_onto_a_subscribed_url_is_ignored_with_a_note(server, home: Path) -> None:
    podbrief("add", publish(server, "popular"))
    popular = feed_records(home)["popular"]
    hostile = publish(server, "hostile", extra=f"<itunes:new-feed-url>{popular['url']}</itunes:new-feed-url>")
    podbrief("add", hostile)
    result = podbrief("fetch")
    assert result.exit_code == 0, result.output
    assert f"ignored itunes:new-feed-url {popular['url']}: already subscribed as feed {popular['id']}" in result.stderr
    assert feed_records(home)["hostile"]["url"] == hostile


def test_feeds_that_already_share_a_url_work_again(server, home: Path) -> None:
    """What an older podbrief left behind: the moved feed's file was saved before the index refused it."""
    podbrief("add", publish(server, "popular"))
    podbrief("add", publish(server, "hostile"))
    records = feed_records(home)
    popular, moved = records["popular"], records["hostile"]
    db = sqlite3.connect(home / "index.sqlite")  # the index as the first schema made it: URLs UNIQUE
    db.executescript(f"DROP TABLE feeds; DROP TABLE episodes; PRAGMA user_version=0; {store.MIGRATIONS[0]}; "
                     "PRAGMA user_version=1;")
    db.close()
    later = {"url": popular["url"], "added_at": "2100-01-01T00:00:00Z"}  # added in the same second, maybe
    (home / "feeds" / f"{moved['id']}.json").write_text(json.dumps({**moved, **later}))
    assert podbrief("reindex").exit_code == 0
    result = podbrief("fetch")
    assert result.exit_code == ExitStatus.PARTIAL, result.output
    assert f"feed {popular['id']} polls the same URL (if it is the same show: podbrief remove {moved['id']})" \
        in result.stderr
    assert titles(home) == ["popular episode"]


# --- 5. a brief saved but never shown or delivered -------------------------------------------------


def test_an_insight_with_a_bad_quote_is_a_problem_and_no_brief_is_lost(server, home: Path, fakes) -> None:
    podbrief("add", publish(server, "show"))
    assert podbrief("today").exit_code == 0
    (insights,) = home.glob("episodes/*/insights.json")
    data = read_json(insights)
    data["insights"][0]["quote"]["start"] = "abc"
    insights.write_text(json.dumps(data))
    for stored in (home / "briefs").iterdir():
        stored.unlink()  # forget the brief, so the bad file is news
    result = podbrief("today")
    assert result.exit_code == ExitStatus.PARTIAL, result.output
    assert "insight 1: 'quote' must be an object with a text and times 0 <= start <= end" in result.stderr
    assert list((home / "briefs").iterdir()) == []


def test_a_brief_that_cannot_be_rendered_is_not_stored(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = {"schema": briefs.SCHEMA, "date": "2026-11-25", "items": [], "problems": [], "sources": []}
    monkeypatch.setattr(briefs.render, "atom", lambda recent: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        briefs.save(Paths(home), made)
    assert not briefs.brief_file(Paths(home), dt.date(2026, 11, 25)).exists()  # the next run makes it again


def test_a_brief_that_could_not_be_emailed_can_be_sent_again(server, home: Path, fakes, set_config, smtp) -> None:
    inbox, port = smtp()
    email = {"host": "127.0.0.1", "port": free_port(), "security": "none", "to": ["me@example.org"],
             "sender": "podbrief@example.org"}
    set_config(brief={"deliver": "email"}, email=email)
    podbrief("add", publish(server, "show"))
    failed = podbrief("-q", "today")
    assert failed.exit_code == ExitStatus.DELIVERY
    date = json.loads(podbrief("brief", "--json").stdout)["date"]
    assert f"the brief is saved: `podbrief brief --date {date} --deliver` sends it again" in failed.stderr
    assert podbrief("-q", "today").exit_code == ExitStatus.NOTHING_NEW and inbox.messages == []
    set_config(brief={"deliver": "email"}, email={**email, "port": port})
    sent = podbrief("brief", "--date", date, "--deliver")
    assert sent.exit_code == 0, sent.output
    assert "emailed the brief to me@example.org" in sent.stderr
    [message] = inbox.messages
    assert "show episode" in message.get_body(("html",)).get_content()
    set_config()  # brief.deliver: none
    assert podbrief("brief", "--deliver").exit_code == ExitStatus.USAGE


# --- 11. misleading errors: each is one line with a documented exit code ---------------------------

def on_a_small_disk(home: Path, script: str) -> str:
    """Run `script` (sh) with a 256 KB tmpfs over `home` in a private mount namespace; its output."""
    run = f"mount -t tmpfs -o size=256k tmpfs {home}\ncd {home}\n{script}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent), "PODBRIEF_HOME": str(home),
           "POD": f"{sys.executable} -m podbrief"}
    try:
        done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", run], env=env,
                              capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        pytest.skip("needs unshare (util-linux)")
    if "mount:" in done.stderr or "unshare:" in done.stderr:
        pytest.skip(f"cannot mount a small disk here: {done.stderr.strip()}")
    return done.stdout + done.stderr


def test_a_full_disk_and_a_read_only_home_are_one_line_each(server, tmp_path: Path) -> None:
    home = tmp_path / "small"
    home.mkdir()
    opml = tmp_path / "subscriptions.opml"
    opml.write_bytes(b'<opml version="2.0"><body>'
                     + b"".join(b'<outline xmlUrl="https://example.com/%d.xml"/>' % n for n in range(50))
                     + b"</body></opml>")
    output = on_a_small_disk(home, f"""
        printf 'network: {{allow_private: true}}\\n' > config.yaml
        $POD add {publish(server, "show")}; echo "add: $?"
        dd if=/dev/zero of=filler bs=1k count=1000 2>/dev/null || true
        $POD import {opml} 2>&1; echo "import: $?"
        rm -f index.sqlite*
        $POD feeds 2>&1; echo "feeds: $?"
        rm filler
        mount -o remount,ro {home}
        $POD remove show 2>&1; echo "remove: $?"
    """)
    assert "add: 0" in output, output
    lines = output.splitlines()
    for command, message in (("import", "is the disk full or read-only?"), ("feeds", "is the disk full or read-only?"),
                             ("remove", "Read-only file system")):
        position = lines.index(f"{command}: {int(ExitStatus.STORAGE)}")
        assert lines[position - 1].startswith("podbrief: error: ") and message in lines[position - 1], output
        assert "unexpected error" not in output


def test_a_garbage_index_is_named_and_reindex_rebuilds_it_from_the_files(server, home: Path) -> None:
    podbrief("add", publish(server, "show"))
    (home / "index.sqlite").write_bytes(b"garbage " * 1000)
    broken = podbrief("feeds")
    assert broken.exit_code == ExitStatus.INPUT
    assert "index.sqlite: corrupt index (file is not a database); `podbrief reindex` rebuilds it" in broken.stderr
    rebuilt = podbrief("reindex")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "Reindexed 1 feeds" in rebuilt.stderr
    assert [feed["title"] for feed in json.loads(podbrief("feeds", "--json").stdout)] == ["show"]


def test_a_feed_file_of_another_schema_is_named(server, home: Path) -> None:
    podbrief("add", publish(server, "show"))
    (home / "feeds" / "0123456789abcdef.json").write_text('{"schema": "other/2", "id": "0123456789abcdef"}')
    for command in ("feeds", "fetch"):
        result = podbrief(command)
        assert result.exit_code == ExitStatus.INPUT
        assert "0123456789abcdef.json: not a podbrief subscription (schema 'other/2'" in result.stderr


def test_an_opml_file_with_a_bogus_encoding_is_an_input_error(home: Path, tmp_path: Path) -> None:
    opml = tmp_path / "list.opml"
    opml.write_bytes(b'<?xml version="1.0" encoding="x-bogus"?><opml><body/></opml>')
    result = podbrief("import", str(opml))
    assert result.exit_code == ExitStatus.INPUT
    assert "not a valid OPML file (unknown encoding: x-bogus)" in result.stderr


def test_a_since_before_year_one_is_a_usage_error(home: Path) -> None:
    podbrief("add", "https://example.com/feed.xml")  # so that today gets as far as the window
    result = podbrief("today", "--since", "99999999d")
    assert result.exit_code == ExitStatus.USAGE
    assert "--since: 99999999d reaches back before year 1" in result.stderr


# --- 6. terminal escape injection ------------------------------------------------------------------

HOSTILE_TITLE = "\x1b[2J\x1b]0;PWNED\x07x"


def in_a_terminal(home: Path, *args: str) -> bytes:
    """Everything `podbrief ARGS` writes to a real terminal (a pty), stdout and stderr together."""
    master, slave = pty.openpty()
    env = {**os.environ, "PODBRIEF_HOME": str(home), "PYTHONPATH": str(Path(__file__).parent.parent),
           "TERM": "xterm-256color", "COLUMNS": "200"}
    process = subprocess.Popen([sys.executable, "-m", "podbrief", *args], stdin=slave, stdout=slave, stderr=slave,
                               env=env)
    os.close(slave)
    output = b""
    with contextlib.suppress(OSError):  # EIO once the process has closed the terminal
        while chunk := os.read(master, 65536):
            output += chunk
    os.close(master)
    process.wait(timeout=60)
    return output


def test_feed_text_never_sends_control_sequences_to_the_terminal(server, home: Path) -> None:
    url = publish(server, "show", title=HOSTILE_TITLE)
    hostile = HOSTILE_TITLE.encode()
    episode = server.add("show.mp3", b"audio")
    server.add("show.xml", rss(HOSTILE_TITLE, [item(HOSTILE_TITLE, "g1", audio_url=episode),
                                               item("second", "g2", audio_url="http://xn--/a.mp3")]))
    outputs = {"add": in_a_terminal(home, "add", url), "fetch": in_a_terminal(home, "fetch"),
               "feeds": in_a_terminal(home, "feeds")}
    (episode_id,) = [path.parent.name for path in home.glob("episodes/*/episode.json")
                     if read_json(path)["title"] == HOSTILE_TITLE]
    outputs["extract"] = in_a_terminal(home, "extract", episode_id)  # not transcribed: it fails, naming the episode
    for command, output in outputs.items():
        assert b"PWNED" in output, (command, output)  # the text is shown ...
        for sequence in (b"\x1b[2J", b"\x1b]", b"\x07", hostile):  # ... without its control characters
            assert sequence not in output, (command, sequence, output)
    assert b"new" in outputs["fetch"] and b"downloaded" in outputs["fetch"] and b"failed" in outputs["fetch"]


# --- 9. slow headers ---------------------------------------------------------------------------------


def test_the_total_timeout_covers_a_server_that_drips_its_headers(server, home: Path, set_config) -> None:
    set_config(network={"timeout": 1, "total_timeout": 2})
    url = publish(server, "show")
    server.route("show.xml", slow_headers=24, slow_header_seconds=0.25)  # 6 s of headers, a line every 0.25 s
    started = time.monotonic()
    result = podbrief("add", url)
    assert time.monotonic() - started < 4
    assert result.exit_code == ExitStatus.NETWORK
    assert f"{url}: timed out (took longer than network.total_timeout)" in result.stderr


# --- 8. a YAML alias bomb in config.yaml --------------------------------------------------------------


def test_a_yaml_alias_bomb_in_the_config_is_refused_at_once(home: Path) -> None:
    # 7 levels of 10 mappings: 10 million keys once expanded (the sweep's 8 levels took 50 s and 4.5 GB)
    levels = ["a0: &a0 {" + ", ".join(f"k{k}: 1" for k in range(10)) + "}"]
    levels += [f"a{n}: &a{n} {{" + ", ".join(f"k{k}: *a{n - 1}" for k in range(10)) + "}" for n in range(1, 8)]
    (home / "config.yaml").write_text("\n".join(levels) + "\n")
    assert (home / "config.yaml").stat().st_size < 1000
    started = time.monotonic()
    result = podbrief("fetch")
    assert time.monotonic() - started < 5
    assert result.exit_code == ExitStatus.CONFIG
    assert "config.yaml:1: anchors and aliases (&name, *name) are not allowed in the config" in result.stderr


def test_an_alias_in_an_environment_override_is_refused(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODBRIEF_RANK_AVOID", "[&a x, *a]")
    result = podbrief("fetch")
    assert result.exit_code == ExitStatus.CONFIG and "PODBRIEF_RANK_AVOID" in result.stderr


# --- 7. a malicious GGUF chat template -----------------------------------------------------------------

TRANSCRIPT = Path(__file__).parent / "fixtures" / "extract" / "transcript.json"


def gguf_with_template(home: Path, template: str) -> Path:
    """The SmolLM2 test model with `template` as its chat template (written by the gguf package)."""
    source = model_registry.resolve("llm", "smollm2-135m", Paths(home)).path
    out = home / "evil.gguf"
    subprocess.run([sys.executable, "-m", "gguf.scripts.gguf_new_metadata", "--force", "--chat-template", template,
                    str(source), str(out)], check=True, capture_output=True, timeout=120)
    return out


@pytest.mark.parametrize(("template", "message"), [
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
     "its chat template took over 2 s to render"),
    ("{{ self.__init__.__globals__.__builtins__.__import__('os').system('touch pwned') }}",
     "its chat template cannot be rendered (SecurityError"),
])
def test_a_hostile_chat_template_is_a_model_error(home: Path, template: str, message: str) -> None:
    model = gguf_with_template(home, template)
    started = time.monotonic()
    result = podbrief("extract", str(TRANSCRIPT), "--model", str(model), "-o", str(home / "out.json"))
    assert time.monotonic() - started < 30
    assert result.exit_code == ExitStatus.MODEL, result.output
    assert message in result.stderr
    assert not (home / "out.json").exists() and not Path("pwned").exists()


# --- 10. transcribe workers must die with their parent -------------------------------------------------


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid`."""
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError):
            if f"\nPPid:\t{pid}\n" in status.read_text():
                found.add(int(status.parent.name))
    return found


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists() and "State:\tZ" not in
            Path(f"/proc/{pid}/status").read_text(errors="replace")}


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_transcribe_workers_end_with_their_parent(home: Path, set_config, signum: int) -> None:
    set_config(transcribe={"workers": 2})
    for title in ("one", "two", "three"):
        add_episode(home, title, Path(__file__).parent / "fixtures" / "speech" / "interview-two-voices.mp3")
    env = {**os.environ, "PODBRIEF_HOME": str(home), "PYTHONPATH": str(Path(__file__).parent.parent)}
    parent = subprocess.Popen([sys.executable, "-m", "podbrief", "transcribe"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(children(parent.pid)) < 3 and time.monotonic() < deadline:  # two workers and the resource tracker
        time.sleep(0.2)
    time.sleep(3)  # the workers are loading the model or decoding
    workers = children(parent.pid)
    assert len(workers) >= 3 and parent.poll() is None
    parent.send_signal(signum)
    try:
        parent.wait(timeout=30)
        deadline = time.monotonic() + 15
        while alive(workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(workers)
    finally:  # a failing run leaves no orphans behind either
        for pid in alive(workers):
            os.kill(pid, signal.SIGKILL)
    if signum == signal.SIGTERM:
        assert parent.returncode == ExitStatus.INTERRUPTED and b"interrupted" in parent.stderr.read()


# --- 12. low severity --------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["timeout", "total_timeout"])
def test_a_zero_network_timeout_is_a_config_error(home: Path, set_config, key: str) -> None:
    set_config(network={key: 0})
    result = podbrief("add", "https://example.com/feed.xml")
    assert result.exit_code == ExitStatus.CONFIG
    assert f"network.{key}: must be more than 0, got 0" in result.stderr


@pytest.mark.parametrize(("name", "message"), [
    ("/nowhere/x.gguf", "/nowhere/x.gguf: no such GGUF file"),
    ("models/x.gguf", "models/x.gguf: no such GGUF file"),  # a relative path, not a hub id: nothing is downloaded
    ("x.gguf", "x.gguf: no such GGUF file"),
    ("qwen9", "unknown llm model 'qwen9'"),
])
def test_a_missing_model_file_is_named_as_such(home: Path, name: str, message: str) -> None:
    result = podbrief("extract", str(TRANSCRIPT), "--model", name, "-o", str(home / "out.json"))
    assert result.exit_code == ExitStatus.MODEL
    assert message in result.stderr


def test_hub_ids_are_still_hub_ids() -> None:
    for kind, name in (("llm", "org/repo"), ("llm", "org/repo:file-q4_k_m.gguf"), ("whisper", "Systran/faster-whisper-small")):
        assert model_registry.resolve(kind, name, Paths(Path("unused"))).sha256 is None  # the engine downloads it


def test_adding_an_empty_url_says_so(home: Path) -> None:
    result = podbrief("add", "")
    assert result.exit_code == ExitStatus.USAGE
    assert "podbrief: error: the feed URL is empty" in result.stderr


def test_a_feed_of_100000_items_is_read_in_bounded_time_and_memory(server, home: Path) -> None:
    items = b"".join(b'<item><title>e%d</title><guid>g%d</guid><enclosure url="https://example.com/%d.mp3" '
                     b'type="audio/mpeg"/></item>' % (n, n, n) for n in range(100_000))
    url = server.add("big.xml", b'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>' + items
                     + b"</channel></rss>")
    assert podbrief("add", url).exit_code == 0
    # VmHWM, not ru_maxrss: Linux carries the latter over from the forking pytest process
    measure = ("import re, sys\nfrom podbrief.cli import app\ntry:\n    app(['fetch'])\nfinally:\n"
               "    status = open('/proc/self/status').read()\n"
               "    print('peak', re.search(r'VmHWM:\\s+(\\d+)', status)[1], file=sys.stderr)\n")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", measure], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PODBRIEF_HOME": str(home), "PYTHONPATH": str(Path(__file__).parent.parent)})
    seconds = time.monotonic() - started
    assert "the feed lists 100000 items; reading the first 5000" in done.stderr
    assert "first fetch: taking the latest 3 of 5000 episodes" in done.stderr
    peak_mb = int(done.stderr.split("peak ")[1].split()[0]) / 1024
    assert seconds < 20 and peak_mb < 150, (seconds, peak_mb, done.stderr[-300:])  # before: 24 s and 440 MB for a 19 MB feed
