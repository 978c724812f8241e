"""Brief renderers: Markdown and HTML golden files, escaping of hostile text, Atom, the JSON schema."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import feedparser
import jsonschema
import pytest
from rich.console import Console
from support.briefdata import SAMPLE, hostile_brief, sample_brief
from support.golden import check_text, expected_path

from podbrief import render, terminal

SCHEMA = json.loads((Path(render.__file__).parent / "schemas" / "brief-1.schema.json").read_text())


def test_markdown_golden():
    check_text(expected_path(SAMPLE, ".md"), render.markdown(sample_brief(), explain=True))


def test_html_golden():
    check_text(expected_path(SAMPLE, ".html"), render.html_page(sample_brief(), explain=True))


def test_markdown_escapes_model_text():
    text = render.markdown(sample_brief())
    assert r"\[bold\]is not\[/bold\] a \*permanent\* fix" in text
    assert r"\<script\>" in text and "<script>" not in text
    assert "\x1b" not in text
    assert "javascript:" not in text  # an unsafe link is shown as plain text
    assert "[1:02:05](<https://podcasts.example/" in text


def test_html_escapes_and_links_only_http():
    page = render.html_page(sample_brief())
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "javascript:" not in page
    assert "\x1b" not in page
    assert '<a href="https://podcasts.example/' in page
    assert "Problems" in page and "A &lt;broken&gt; episode" in page
    # self-contained: nothing external but the audio, which loads only when played
    assert "<link" not in page and "<script" not in page and "<img" not in page
    assert page.count("src=") == page.count('<audio controls preload="none" src="https://') == 1


def test_html_hostile_text_and_urls_are_escaped():
    page = render.html_page(hostile_brief())
    assert "<script" not in page and "<img" not in page and "\x00" not in page
    assert "&lt;script&gt;document.body.dataset.pwned" in page
    assert '<span class="pb-stance"' in page and "&lt;script&gt;" in page.split('class="pb-stance"')[1][:300]
    assert 'href="https://podcasts.example/ep.mp3?a=%22%3E%3Cscript%3Ealert(1)%3C/script%3E#t=61"' in page


@pytest.mark.parametrize("quote, expected", [
    ({"link": "https://h/ep.mp3#t=812", "start": 812.4}, "https://h/ep.mp3#t=812.4"),
    ({"link": "https://h/ep.mp3?x=1", "start": 70.0}, "https://h/ep.mp3?x=1#t=70"),
    ({"link": "https://h/ep.mp3", "start": 0}, "https://h/ep.mp3#t=0"),
    ({"link": "javascript:alert(1)", "start": 5.0}, None),
    ({"link": "https://h/ep.mp3"}, None),
    ({"link": None, "start": 5.0}, None),
])
def test_audio_starts_at_the_quote(quote, expected):
    assert render.audio_at(quote) == expected


def test_html_has_a_dark_scheme_over_inline_light_styles():
    page = render.html_page(sample_brief())
    assert '<meta name="color-scheme" content="light dark">' in page
    assert "@media (prefers-color-scheme: dark)" in page
    assert '<body class="pb-body" style="margin:0;padding:0;background:#fbfaf7;color:#1f1f1f">' in page


@pytest.mark.parametrize("url, expected", [
    ("https://h/a b", None),
    ("ftp://h/x", None),
    ("https://h/ep.mp3?a=\"><x>#t=1", "https://h/ep.mp3?a=%22%3E%3Cx%3E#t=1"),
    ("https://h/Zürich.mp3?q=%20&r=1", "https://h/Z%C3%BCrich.mp3?q=%20&r=1"),
])
def test_safe_url_keeps_http_only_and_encodes_what_a_uri_may_not_hold(url, expected):
    assert render.safe_url(url) == expected


def test_terminal_shows_markup_literally_and_strips_escape_sequences():
    out = io.StringIO()
    terminal.brief(sample_brief(), Console(file=out, width=200, force_terminal=True, color_system="truecolor"),
                    explain=True)
    shown = out.getvalue()
    assert "[bold]is not[/bold]" in shown
    assert "\x1b[31m stayed" not in shown and "[31m stayed" in shown  # the injected ESC is gone
    assert "why: score 3.20 = interest 1.00" in shown
    assert "not done yet (time budget): 2 to transcribe" in shown
    assert "extract: A <broken> episode: the model returned no valid insight" in shown


def test_terminal_without_explain_hides_why():
    console = Console(record=True, width=200)
    terminal.brief(sample_brief(), console)
    assert "why:" not in console.export_text()


def _with_stances(*stances: str | None) -> dict:
    """The sample brief with its first item's related insight repeated, once per stance (None: unmarked)."""
    brief = sample_brief()
    related = {k: v for k, v in brief["items"][0]["related"][0].items() if k != "stance"}
    brief["items"][0]["related"] = [{**related, "id": f"{n:x}", **({"stance": s} if s else {})}
                                    for n, s in enumerate(stances)]
    return brief


@pytest.mark.parametrize("stances, summary", [
    (("disagrees", None, None), "1 of 3 related insights disagrees"),
    (("disagrees", "disagrees", "agrees"), "2 of 3 related insights disagree; 1 of 3 related insights agrees"),
    ((None, None), ""),
])
def test_stance_summary_in_every_format(stances, summary):
    brief = _with_stances(*stances)
    assert render.stance_summary(brief["items"][0]["related"]) == summary
    console = Console(record=True, width=200)
    terminal.brief(brief, console)
    shown, markdown, page = console.export_text(), render.markdown(brief), render.html_page(brief)
    for text in (shown, markdown, page):
        assert (summary in text) if summary else ("related insight" not in text)
    assert shown.count("disagrees: ") == stances.count("disagrees")
    assert markdown.count("*disagrees:*") == stances.count("disagrees")


def test_thread_to_an_earlier_brief_in_every_format():
    brief = sample_brief()
    brief["items"][0]["earlier"] = [{"id": "e0", "text": "Care homes [bold]need[/bold] staff.", "speaker": "Jagmeet Singh",
                                     "show": "Question Period", "date": "2026-11-24"},
                                    {"id": "e1", "text": "Odd date.", "speaker": None, "show": None, "date": "<b>x"}]
    console = Console(record=True, width=200)
    terminal.brief(brief, console)
    line = "You heard about this on Tue 24 Nov, from Jagmeet Singh · Question Period: Care homes"
    assert line + " [bold]need[/bold] staff." in console.export_text()
    assert line in render.markdown(brief) and "You heard about this on &lt;b&gt;x: Odd date." in render.html_page(brief)
    assert "You heard about" not in render.markdown(sample_brief())


@pytest.mark.parametrize("seconds, expected", [(0, "0:00"), (72.9, "1:12"), (3725, "1:02:05")])
def test_timestamp(seconds, expected):
    assert render.timestamp(seconds) == expected


def test_atom_feed_is_readable_by_a_feed_reader():
    older = sample_brief() | {"date": "2026-11-24", "created": "2026-11-24T07:00:00Z"}
    text = render.atom([older, sample_brief()])
    ET.fromstring(text)  # well-formed XML
    parsed = feedparser.parse(text)
    assert not parsed.bozo
    assert [e.title for e in parsed.entries] == ["podbrief, Wed 25 Nov 2026: 2 insights",
                                                 "podbrief, Tue 24 Nov 2026: 2 insights"]
    assert parsed.entries[0].id == "urn:podbrief:brief:2026-11-25"
    content = parsed.entries[0].content[0].value
    assert "A one-time $500 payment" in content and "<script>" not in content


def test_json_matches_schema():
    jsonschema.validate(json.loads(render.to_json(sample_brief())), SCHEMA)


def test_schema_takes_the_new_optional_fields_and_still_briefs_without_them():
    brief = sample_brief()
    brief["items"][0]["earlier"] = [{"id": "e0", "text": "t", "speaker": None, "show": "S", "date": "2026-11-24"}]
    brief["items"][0]["related"][0] |= {"relation": 0.91, "stance": "another angle"}
    jsonschema.validate(brief, SCHEMA)
    del brief["items"][0]["earlier"], brief["items"][0]["related"][0]["relation"]
    jsonschema.validate(brief, SCHEMA)
    brief["items"][0]["related"][0]["stance"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(brief, SCHEMA)


@pytest.mark.parametrize("breakage", [
    lambda b: b.pop("items"),
    lambda b: b.update(schema="podbrief.brief/2"),
    lambda b: b["items"][0]["insight"].pop("quote"),
    lambda b: b["problems"].append({"stage": "extract"}),
])
def test_schema_rejects_broken_briefs(breakage):
    brief = sample_brief()
    breakage(brief)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(brief, SCHEMA)
