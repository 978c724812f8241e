"""`podbrief export` of insights: Obsidian vault, Readwise CSV, JSON Lines; golden files, re-export, hostile text."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
import yaml
from support.briefdata import SAMPLE, hostile_brief, sample_brief
from support.golden import check_text, expected_path
from support.rank_data import insight, write_episodes
from typer.testing import CliRunner

from podbrief import briefs, deliver, export, render
from podbrief import config as configmod
from podbrief.cli import app
from podbrief.errors import ConfigError, DeliveryError, ExitStatus
from podbrief.store import Paths, short_hash

runner = CliRunner()
VAULT = expected_path(SAMPLE, ".vault")  # the Obsidian vault made from the sample brief
NOTE_NAME = re.compile(r"(insights/[0-9a-f]{1,64}|episodes/episode-[0-9a-f]{1,64}|speakers/speaker-[0-9a-f]{16})\.md")


def notes(vault: Path) -> dict[str, str]:
    return {p.relative_to(vault).as_posix(): p.read_text(encoding="utf-8") for p in sorted(vault.rglob("*.md"))}


def front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text[4:text.index("\n---\n", 3)])


# --- golden files, beside the sample brief (tests/fixtures/briefs) --------------------------------


def test_jsonl_golden():
    check_text(expected_path(SAMPLE, ".jsonl"), export.jsonl(export.from_brief(sample_brief())))


def test_readwise_golden():
    check_text(expected_path(SAMPLE, ".csv"), export.readwise(export.from_brief(sample_brief())))


def test_obsidian_golden(tmp_path):
    report = export.obsidian(export.from_brief(sample_brief()), tmp_path / "vault")
    written = notes(tmp_path / "vault")
    assert report.written == len(written) == 8 and not report.kept
    for name, text in written.items():
        check_text(VAULT / name, text)
    assert sorted(written) == sorted(p.relative_to(VAULT).as_posix() for p in VAULT.rglob("*.md"))


# --- the Obsidian vault: front matter, links, re-export ---------------------------------------------


def test_note_front_matter_and_links(tmp_path):
    brief = sample_brief()
    export.obsidian(export.from_brief(brief), tmp_path)
    first, related = brief["items"][0]["insight"], brief["items"][0]["related"][0]
    note = (tmp_path / "insights" / f"{first['id']}.md").read_text()
    assert front_matter(note) == {
        "id": first["id"], "speaker": "Deb Schulte", "show": "Question Period", "episode": "Seniors and the pandemic",
        "date": "2026-11-24", "topics": ["seniors"], "quote": "verbatim words 1",
        "link": "https://podcasts.example/a1a1a1a1a1a1a1a1.mp3#t=72", "start": 72.0, "kind": "claim",
        "episode_id": "a1" * 8}
    assert f"- *disagrees*: [[{related['id']}|Long-term care ‹script›alert(1)‹/script› needs" in note
    assert "[[episode-a1a1a1a1a1a1a1a1|Seniors and the pandemic]]" in note
    speaker = f"speaker-{short_hash('deb schulte')}"
    assert f"[[{speaker}|Deb Schulte]]" in note
    assert (tmp_path / "speakers" / f"{speaker}.md").exists()
    episode = (tmp_path / "episodes" / "episode-a1a1a1a1a1a1a1a1.md").read_text()
    assert f"- [[{first['id']}|" in episode


def test_reexport_is_idempotent(tmp_path):
    chosen = export.from_brief(sample_brief())
    export.obsidian(chosen, tmp_path)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.rglob("*.md")}
    report = export.obsidian(chosen, tmp_path)
    assert (report.written, report.unchanged, report.kept) == (0, 8, [])
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.rglob("*.md")} == before


def test_reexport_updates_the_block_and_keeps_what_the_user_wrote(tmp_path):
    brief = sample_brief()
    export.obsidian(export.from_brief(brief), tmp_path)
    path = tmp_path / "insights" / f"{brief['items'][0]['insight']['id']}.md"
    original = path.read_text()
    edited = original.replace("---\n<!--", "rating: 5\ntags: [keep]\n---\nMy intro line.\n<!--", 1)
    edited += "\n## My notes\n\nThis is what I think.\n"
    path.write_text(edited)
    brief["items"][0]["insight"]["text"] = "A corrected insight text."
    brief["items"][0]["insight"]["topics"] = ["seniors", "budget"]

    report = export.obsidian(export.from_brief(brief), tmp_path)

    assert report.written == 3  # the insight's note, and its line in the episode's and the speaker's notes
    note = path.read_text()
    assert "# A corrected insight text." in note and "a \\*permanent\\* fix" not in note
    assert note.endswith("\n## My notes\n\nThis is what I think.\n") and "---\nMy intro line.\n<!--" in note
    assert front_matter(note) == front_matter(original) | {"topics": ["seniors", "budget"], "rating": 5,
                                                           "tags": ["keep"]}
    assert list(front_matter(note))[-2:] == ["rating", "tags"]
    assert len(list(tmp_path.rglob("*.md"))) == 8  # updated in place, nothing duplicated
    assert export.obsidian(export.from_brief(brief), tmp_path).written == 0


def test_a_note_whose_block_the_user_removed_is_kept(tmp_path):
    brief = sample_brief()
    export.obsidian(export.from_brief(brief), tmp_path)
    path = tmp_path / "insights" / f"{brief['items'][0]['insight']['id']}.md"
    path.write_text("---\nid: mine\n---\nI rewrote this note entirely.\n")
    brief["items"][0]["insight"]["text"] = "Changed."
    report = export.obsidian(export.from_brief(brief), tmp_path)
    assert report.kept == [path]
    assert path.read_text() == "---\nid: mine\n---\nI rewrote this note entirely.\n"


def test_episode_and_speaker_notes_gather_insights_across_exports(tmp_path):
    first = insight({"id": "aa01", "episode": "e1", "text": "First claim.", "speaker": "Ada"})
    second = insight({"id": "aa02", "episode": "e1", "text": "Second claim.", "speaker": "Ada"})
    for shown in ([first], [second], [first, second]):
        export.obsidian(export.from_brief(sample_brief() | {"items": [
            {"rank": 1, "score": 1.0, "insight": s, "why": {}, "related": []} for s in shown]}), tmp_path)
    speaker = (tmp_path / "speakers" / f"speaker-{short_hash('ada')}.md").read_text()
    episode = (tmp_path / "episodes" / "episode-e1.md").read_text()
    for note in (speaker, episode):
        assert note.count("[[aa01|First claim.]]") == 1 and note.count("[[aa02|Second claim.]]") == 1


# --- hostile text, in every format ----------------------------------------------------------------


def test_obsidian_names_files_by_ids_only_and_stays_inside_the_vault(tmp_path):
    vault = tmp_path / "a" / "vault"
    export.obsidian(export.from_brief(hostile_brief()), vault)
    assert [p for p in tmp_path.rglob("*") if p.is_file() and vault not in p.parents] == []
    written = notes(vault)
    assert all(NOTE_NAME.fullmatch(name) for name in written), sorted(written)
    evil = hostile_brief()["items"][0]["insight"]
    note = next(text for name, text in written.items() if name.startswith("insights/") and "Model text" in text)
    matter = front_matter(note)  # still valid YAML, and the values are the text, cleaned
    assert matter["id"] == "../../../outside" and matter["speaker"] == render.clean(evil["speaker"])
    assert matter["show"] == render.clean(evil["episode"]["show"]) and "\x00" not in note
    assert matter["quote"] == render.clean(evil["quote"]["text"]) and matter["topics"] == ["../topic", "<b>bold</b>"]
    assert list(matter)[:8] == ["id", "speaker", "show", "episode", "date", "topics", "quote", "link"]
    body = note.split("\n---\n", 1)[1]  # the front matter holds the text as YAML data; the body is Markdown
    markdown = body.replace(export.BEGIN, "").replace(export.END, "")
    syntax = markdown.replace("\n> ", "\n").replace("](<https:", "").replace(">)", "")  # a quote, a link
    assert not re.search(r"(?<!\\)[<>]", syntax)  # no raw markup
    assert "\\<script\\>" in markdown and "\\[bold\\]loud\\[/bold\\]" in markdown
    assert "[[speaker-" in body and "|(red)Eve(/red) ../../etc/passwd]]" in body  # a label cannot end the link
    assert "key: value \\]\\] \\| \\#tag" in body  # the insight's own "---" and "key:" stay in the body


def test_jsonl_round_trips_hostile_text_one_line_each():
    brief = hostile_brief()
    text = export.jsonl(export.from_brief(brief))
    lines = text.splitlines()  # splits on U+2028 too: so none may be raw
    assert len(lines) == len(export.from_brief(brief).insights) == 4
    parsed = [json.loads(line) for line in lines]
    evil = brief["items"][0]["insight"]
    assert {k: v for k, v in parsed[0].items() if k != "related"} == evil  # data, exactly as stored
    assert parsed[0]["related"] == [{"id": "aa65d152b7669036", "similarity": 0.9,
                                     "stance": brief["items"][0]["related"][0]["stance"]}]


def test_readwise_csv_of_hostile_text():
    rows = list(csv.reader(io.StringIO(export.readwise(export.from_brief(hostile_brief())), newline="")))
    assert rows[0] == ["Highlight", "Title", "Author", "URL", "Note", "Location", "Date"]
    assert len(rows) == 5 and all(len(row) == 7 for row in rows)
    evil = dict(zip(rows[0], rows[1]))
    assert evil["Highlight"].startswith("</blockquote><script>alert(1)</script> said \"quoted\", =SUM(A1)")
    assert evil["Author"] == '<script>document.body.dataset.pwned="script"</script> /Show with NUL'
    assert evil["URL"] == "https://podcasts.example/ep.mp3?a=%22%3E%3Cscript%3Ealert(1)%3C/script%3E#t=61"
    assert evil["Location"] == "61" and evil["Date"] == "2026-11-24 06:00:00"
    assert all("\x00" not in cell and "\n" not in cell for row in rows for cell in row)


@pytest.mark.parametrize("text, cell", [("=HYPERLINK(1)", "'=HYPERLINK(1)"), ("+1", "'+1"), ("@x", "'@x"),
                                        ("- dash", "'- dash"), ("plain", "plain")])
def test_readwise_cells_never_start_a_spreadsheet_formula(text, cell):
    brief = sample_brief()
    brief["items"][0]["insight"]["quote"]["text"] = text
    rows = list(csv.reader(io.StringIO(export.readwise(export.from_brief(brief)), newline="")))
    assert rows[1][0] == cell


# --- what is exported: all insights or one brief; the CLI ---------------------------------------


@pytest.fixture
def stocked(home: Path) -> Paths:
    """A home with two episodes' insight files and the sample brief stored."""
    paths = Paths(home)
    write_episodes(paths, [insight({"id": "bb01", "episode": "e1", "text": "Only in the library.", "speaker": "Ada"}),
                           insight({"id": "bb02", "episode": "e2", "text": "Also in the library."})])
    briefs.save(paths, sample_brief())
    return paths


def test_exported_insights_leave_the_related_entry_fields_behind():
    brief = sample_brief()
    brief["items"][0]["related"][0]["relation"] = 0.95
    related_id = brief["items"][0]["related"][0]["id"]
    chosen = export.from_brief(brief)
    assert not {"similarity", "relation", "stance"} & set(chosen.insights[related_id])
    assert chosen.related[brief["items"][0]["insight"]["id"]][related_id]["relation"] == 0.95


def test_select_all_insights_or_one_brief(stocked):
    everything = export.select(stocked)
    ids = list(everything.insights)
    assert ids[:2] == ["bb01", "bb02"] and len(ids) == 5  # the library, then the brief's items and related
    assert [r["stance"] for r in everything.related[sample_brief()["items"][0]["insight"]["id"]].values()] == ["disagrees"]
    one_day = export.select(stocked, briefs.stored_dates(stocked)[0])
    assert list(one_day.insights) == ids[2:]


def test_cli_exports_each_format(stocked, tmp_path):
    result = runner.invoke(app, ["export", "--jsonl"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()][:2] == ["bb01", "bb02"]
    assert runner.invoke(app, ["export", "--jsonl", "-o", str(tmp_path / "all.jsonl")]).exit_code == 0
    assert (tmp_path / "all.jsonl").read_text() == result.stdout
    result = runner.invoke(app, ["export", "--readwise", str(tmp_path / "hl.csv"), "--date", "2026-11-25"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "hl.csv").read_bytes().decode() == export.readwise(export.from_brief(sample_brief()))
    for attempt in ("8 notes written, 0 unchanged", "0 notes written, 8 unchanged"):
        result = runner.invoke(app, ["export", "--obsidian", str(tmp_path / "vault"), "--date", "2026-11-25"])
        assert result.exit_code == 0 and attempt in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--jsonl", "--readwise", "x.csv"], "choose one of --obsidian, --readwise, --jsonl"),
    (["--date", "2026-11-25"], "--date needs --obsidian, --readwise or --jsonl"),
    (["--readwise", "x.csv", "-o", "y.csv"], "-o goes with --jsonl or the OPML export"),
    (["--jsonl", "--date", "2026-11-24"], "no brief for 2026-11-24"),
    (["--jsonl", "--date", "yesterday"], "--date: expected YYYY-MM-DD"),
])
def test_cli_usage_errors(stocked, args, message):
    result = runner.invoke(app, ["export", *args])
    assert result.exit_code == ExitStatus.USAGE and message in result.stderr


def test_cli_unwritable_vault_is_one_line(stocked, tmp_path):
    (tmp_path / "file").write_text("not a directory")
    result = runner.invoke(app, ["export", "--obsidian", str(tmp_path / "file")])
    assert result.exit_code == ExitStatus.USAGE
    assert result.stderr.startswith(f"podbrief: error: {tmp_path / 'file'}: cannot write the vault (")


# --- brief.deliver: obsidian:DIR ----------------------------------------------------------------


def vault_config(value: str) -> configmod.Config:
    return configmod.load(None, environ={}, flags={"brief.deliver": value})


def test_deliver_to_an_obsidian_vault(tmp_path):
    note = deliver.deliver(sample_brief(), vault_config(f"obsidian:{tmp_path / 'vault'}"))
    assert note == f"exported the brief to the Obsidian vault {tmp_path / 'vault'}: 8 notes written, 0 unchanged"
    assert notes(tmp_path / "vault") == notes(VAULT)


@pytest.mark.parametrize("value", ["obsidian:", "obsidian:  ", "vault"])
def test_bad_delivery_settings_fail_before_any_work(value):
    with pytest.raises(ConfigError, match="brief.deliver: expected"):
        deliver.check(vault_config(value))


def test_unwritable_vault_is_a_delivery_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(DeliveryError, match="^obsidian: .*cannot write the vault"):
        deliver.deliver(sample_brief(), vault_config(f"obsidian:{tmp_path / 'file'}"))
