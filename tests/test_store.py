"""Storage: atomic writes, the run lock, the SQLite index and its rebuild from files."""

import json
import multiprocessing
import sqlite3

import pytest

from podbrief import store
from podbrief.errors import ExitStatus, InputError, LockedError
from podbrief.store import Index, Paths


@pytest.fixture
def paths(tmp_path):
    return Paths(tmp_path / "home")


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "a" / "out.json"
    store.atomic_write_json(target, {"v": 1})
    store.atomic_write_json(target, {"v": 2})
    assert json.loads(target.read_text()) == {"v": 2}
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "out.txt"
    store.atomic_write_text(target, "old")
    with pytest.raises(RuntimeError), store.atomic_writer(target) as handle:
        handle.write(b"half of the new")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_read_json_names_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="bad.json"):
        store.read_json(bad)
    with pytest.raises(InputError, match="missing.json: no such file"):
        store.read_json(tmp_path / "missing.json")


def test_ids_are_the_only_path_components(paths):
    assert paths.episode_dir("ab12").name == "ab12"
    for evil in ("../../etc", "", "AB12", "a/b"):
        with pytest.raises(InputError):
            paths.episode_dir(evil)


def test_home_and_models_dir_follow_env(tmp_path, monkeypatch):
    monkeypatch.setenv("PODBRIEF_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("PODBRIEF_MODELS_DIR", str(tmp_path / "m"))
    paths = Paths.default()
    assert paths.home == tmp_path / "h"
    assert paths.config_file == tmp_path / "h" / "config.yaml"
    assert paths.models_dir == tmp_path / "m"


def _hold_lock(home, ready, release):
    with store.run_lock(Paths(home)):
        ready.set()
        release.wait(10)


def test_run_lock_is_exclusive_across_processes(paths):
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(paths.home, ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(LockedError) as info, store.run_lock(paths):
            pass
        assert info.value.exit_status == ExitStatus.LOCKED
    finally:
        release.set()
        holder.join(10)
    with store.run_lock(paths):  # free again once the holder is gone
        pass


def test_index_migrates_once_and_tracks_stages(paths):
    with Index(paths) as index:
        index.upsert_feed({"id": "f1", "url": "https://x/feed", "added_at": store.utcnow()})
        index.upsert_episode({"id": "e1", "feed_id": "f1", "title": "One", "published": "2026-01-02",
                              "discovered_at": store.utcnow()})
        assert [r["id"] for r in index.pending("fetch")] == ["e1"]
        assert index.pending("transcribe") == []
        index.mark_done("e1", "fetch")
        assert [r["id"] for r in index.pending("transcribe")] == ["e1"]
        index.mark_failed("e1", "transcribe", "corrupt audio")
        assert index.episode("e1")["error"] == "corrupt audio"
        index.mark_done("e1", "transcribe")
        assert index.episode("e1")["error"] is None
        index.reset_stage("e1", "transcribe")
        assert index.episode("e1")["fetched_at"] is not None
        assert index.episode("e1")["transcribed_at"] is None
    with Index(paths) as again:  # reopening does not re-run migrations
        assert again.conn.execute("PRAGMA user_version").fetchone()[0] == len(store.MIGRATIONS)
        assert again.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_rebuild_from_files(paths):
    store.atomic_write_json(paths.feed_file("f1"), {"id": "f1", "url": "https://x/feed", "added_at": "2026-01-01"})
    episode = paths.episode_dir("e1")
    store.atomic_write_json(episode / "episode.json", {"id": "e1", "feed_id": "f1", "title": "One",
                                                        "discovered_at": "2026-01-01", "fetched_at": "2026-01-02"})
    store.atomic_write_json(episode / "transcript.json", {"segments": []})
    paths.db.unlink(missing_ok=True)
    with Index(paths) as index:
        assert index.rebuild() == (1, 1)
        row = index.episode("e1")
        assert row["fetched_at"] == "2026-01-02"
        assert row["transcribed_at"] is not None
        assert row["extracted_at"] is None
        assert [r["id"] for r in index.pending("extract")] == ["e1"]


def test_rebuild_fails_cleanly_on_corrupt_file(paths):
    with Index(paths) as index:
        index.upsert_feed({"id": "f0", "url": "https://keep/feed", "added_at": "2026-01-01"})
        paths.feeds_dir.mkdir(parents=True, exist_ok=True)
        (paths.feeds_dir / "f1.json").write_text("{broken")
        with pytest.raises(InputError, match="f1.json"):
            index.rebuild()
        assert [r["id"] for r in index.feeds()] == ["f0"]  # rolled back, nothing lost


def test_index_is_plain_sqlite(paths):
    Index(paths).close()
    assert sqlite3.connect(paths.db).execute("SELECT count(*) FROM episodes").fetchone() == (0,)


def test_expect_schema_names_the_source_and_what_it_found():
    assert store.expect_schema({"schema": "x/1", "a": 1}, "x/1", "f.json", "thing") == {"schema": "x/1", "a": 1}
    with pytest.raises(InputError, match=r"f.json: not a thing \(schema 'y/1', expected 'x/1'\)"):
        store.expect_schema({"schema": "y/1"}, "x/1", "f.json", "thing")
    with pytest.raises(InputError, match=r"schema 'list'"):
        store.expect_schema([1, 2], "x/1", "f.json", "thing")
