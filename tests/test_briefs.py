"""Stored briefs: save/load round trip, the Atom feed kept beside them, corrupt and missing briefs."""

from __future__ import annotations

import datetime as dt

import pytest
from support.briefdata import sample_brief

from podbrief import briefs
from podbrief.errors import InputError, UsageError
from podbrief.store import Paths


@pytest.fixture
def paths(tmp_path):
    return Paths(tmp_path)


def test_save_then_load_round_trips_and_writes_atom(paths):
    brief = sample_brief()
    path = briefs.save(paths, brief)
    assert path == paths.briefs_dir / "2026-11-25.json"
    assert briefs.load(paths, dt.date(2026, 11, 25)) == brief
    assert "urn:podbrief:brief:2026-11-25" in briefs.atom_file(paths).read_text()
    assert not list(paths.briefs_dir.glob(".*.tmp"))


def test_latest_and_dates_are_newest_first(paths):
    briefs.save(paths, sample_brief() | {"date": "2026-11-23"})
    briefs.save(paths, sample_brief())
    (paths.briefs_dir / "notes.json").write_text("{}")  # not a brief: ignored
    assert briefs.stored_dates(paths) == [dt.date(2026, 11, 25), dt.date(2026, 11, 23)]
    assert briefs.latest(paths)["date"] == "2026-11-25"
    assert briefs.atom_file(paths).read_text().count("<entry>") == 2


def test_sources_of_all_stored_briefs(paths):
    assert briefs.sources(paths) == set()
    briefs.save(paths, sample_brief())
    briefs.save(paths, sample_brief() | {"date": "2026-11-20", "sources": [
        {"episode_id": "e1", "extracted_at": "2026-11-20T06:00:00Z"}]})
    assert briefs.sources(paths) == {("a1" * 8, "2026-11-25T06:30:00Z"), ("e1", "2026-11-20T06:00:00Z")}


def test_missing_brief_names_the_dates_there_are(paths):
    with pytest.raises(UsageError, match="no brief yet"):
        briefs.latest(paths)
    briefs.save(paths, sample_brief())
    with pytest.raises(UsageError, match=r"no brief for 2026-11-20 \(latest: 2026-11-25\)"):
        briefs.load(paths, dt.date(2026, 11, 20))


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"schema": "podbrief.insights/1", "items": []}', "not a podbrief brief"),
    ('{"schema": "podbrief.brief/1", "items": [{"rank": 1}]}', "corrupt brief"),
])
def test_corrupt_brief_is_an_input_error_naming_the_file(paths, content, message):
    paths.briefs_dir.mkdir(parents=True)
    (paths.briefs_dir / "2026-11-25.json").write_text(content)
    with pytest.raises(InputError, match=message) as info:
        briefs.load(paths, dt.date(2026, 11, 25))
    assert "2026-11-25.json" in str(info.value)
