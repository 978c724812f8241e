"""OPML import and export, through the CLI and the parser."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from podbrief.cli import app
from podbrief.errors import ExitStatus, InputError
from podbrief.formats import opml

runner = CliRunner()

NESTED = b"""<?xml version="1.0" encoding="utf-8"?>
<opml version="1.0">
  <head><title>My podcasts</title></head>
  <body>
    <outline text="Tech">
      <outline type="rss" text="Show &amp; Tell" xmlUrl="https://example.com/a.xml"/>
      <outline type="rss" title="Titled" text="ignored" xmlUrl=" https://example.com/b.xml "/>
    </outline>
    <outline type="rss" text="Again" xmlUrl="https://example.com/a.xml"/>
    <outline type="link" text="A web page" url="https://example.com/"/>
    <outline type="rss" text="Bad scheme" xmlUrl="ftp://example.com/c.xml"/>
    <outline type="rss" xmlUrl="https://example.com/d.xml"/>
  </body>
</opml>
"""


def test_parse_flattens_folders_and_skips_repeats():
    assert opml.parse(NESTED, "subs.opml") == [
        opml.Outline("https://example.com/a.xml", "Show & Tell"),
        opml.Outline("https://example.com/b.xml", "Titled"),
        opml.Outline("ftp://example.com/c.xml", "Bad scheme"),
        opml.Outline("https://example.com/d.xml", None),
    ]


def test_import_then_export_round_trips(home, tmp_path):
    source = tmp_path / "subs.opml"
    source.write_bytes(NESTED)
    result = runner.invoke(app, ["import", str(source)])
    assert result.exit_code == 0, result.stderr
    assert "skipped: ftp://example.com/c.xml: only http and https URLs are allowed" in result.stderr
    assert "Imported 3 of 4 feeds." in result.stderr
    feeds = json.loads(runner.invoke(app, ["feeds", "--json"]).stdout)
    assert sorted((feed["url"], feed["title"]) for feed in feeds) == [
        ("https://example.com/a.xml", "Show & Tell"), ("https://example.com/b.xml", "Titled"),
        ("https://example.com/d.xml", None)]
    again = runner.invoke(app, ["import", str(source)])
    assert "Imported 0 of 4 feeds." in again.stderr

    out = tmp_path / "out.opml"
    assert runner.invoke(app, ["export", "-o", str(out)]).exit_code == 0
    exported = opml.parse(out.read_bytes(), str(out))
    assert sorted(exported, key=lambda o: o.url) == [
        opml.Outline("https://example.com/a.xml", "Show & Tell"), opml.Outline("https://example.com/b.xml", "Titled"),
        opml.Outline("https://example.com/d.xml", "https://example.com/d.xml")]
    to_stdout = runner.invoke(app, ["export"])
    assert opml.parse(to_stdout.stdout.encode(), "stdout") == exported

@pytest.mark.parametrize("data, message", [
    ((b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
      b'<opml><body><outline xmlUrl="&b;"/></body></opml>'), "refused: the OPML declares XML entities"),
    ((b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
      b'<opml><body><outline xmlUrl="&x;"/></body></opml>'), "refused: the OPML declares XML entities"),
    (b"<opml><body><outline", "not a valid OPML file"),
    (b"<rss><channel/></rss>", "not an OPML file"),
])
def test_bad_opml_is_refused(data, message):
    with pytest.raises(InputError, match=message):
        opml.parse(data, "subs.opml")


def test_import_errors_are_one_line(home, tmp_path):
    missing = runner.invoke(app, ["import", str(tmp_path / "nope.opml")])
    assert missing.exit_code == ExitStatus.INPUT
    assert missing.stderr.startswith("podbrief: error: ") and "cannot read" in missing.stderr
    bad = tmp_path / "bad.opml"
    bad.write_bytes(b"%PDF-1.4")
    result = runner.invoke(app, ["import", str(bad)])
    assert result.exit_code == ExitStatus.INPUT
    assert "not a valid OPML file" in result.stderr
