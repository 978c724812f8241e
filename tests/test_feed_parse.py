"""Feed parsing: real-world feeds, golden episode lists, and hostile or broken bodies.

Golden files lie beside their feeds (tests/support/golden.py); after an intended change, rewrite
them with `PODBRIEF_UPDATE_GOLDEN=1 pytest tests/test_feed_parse.py` and review the diff.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from support.golden import check_json, expected_path
from support.localserver import item, rss

from podbrief.errors import InputError
from podbrief.formats.feed import html_to_text, parse, parse_duration

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
ALL_FEEDS = sorted(FEEDS.glob("*/*.xml"))
GOLDEN = ["podcasting20/partytime-example.xml", "podcasting20/partytime-legacy.xml",
          "real-world/homegrown-hits.xml", "real-world/changing-the-tide.xml", "real-world/dk-podcast.xml",
          "real-world/themnshow.xml"]


def as_json(path: Path) -> dict:
    return json.loads(json.dumps(asdict(parse(path.read_bytes(), path.name)), ensure_ascii=False))


@pytest.mark.parametrize("path", ALL_FEEDS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_real_world_feed_parses(path):
    feed = parse(path.read_bytes(), path.name)
    assert feed.title
    for episode in feed.episodes:
        assert episode.key and episode.title
        assert episode.enclosure or episode.transcripts
        assert episode.published is None or episode.published.endswith("Z")
    assert len({episode.key for episode in feed.episodes}) == len(feed.episodes)


def test_real_world_feeds_have_episodes():
    counts = {path.name: len(parse(path.read_bytes(), path.name).episodes) for path in ALL_FEEDS}
    assert counts["partytime-empty.xml"] == 0
    assert counts["sentimental-garbage.xml"] == 138
    assert counts["no-agenda.xml"] == 29
    assert all(count > 0 for name, count in counts.items() if name != "partytime-empty.xml")


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_episode_list(name):
    path = FEEDS / name
    check_json(expected_path(path), as_json(path))


def test_podcasting20_tags_are_extracted():
    feed = parse((FEEDS / "real-world/themnshow.xml").read_bytes(), "themnshow")
    latest = feed.episodes[0]
    assert latest.transcripts == [{"url": "https://mikeneumann.show/assets/static/"
                                          "themnshow054-20240914-DRAFT-transcript.srt",
                                   "type": "application/x-subrip", "language": "EN"}]
    assert latest.chapters["url"].endswith("themnshow054-20240914-DRAFT-chapters.json")
    assert {"name": "Dr. Timothy M. Jurgensen", "role": "guest"} in latest.persons


def test_channel_persons_apply_to_episodes_without_their_own():
    feed = parse(rss("Show", [item("One", "g1", audio_url="https://example.com/1.mp3")],
                     channel_extra='<podcast:person role="Host">Ann Host</podcast:person>'), "show")
    assert feed.episodes[0].persons == [{"name": "Ann Host", "role": "host"}]


def test_all_transcripts_are_kept_with_type_and_language():
    tags = ('<podcast:transcript url="https://example.com/1.vtt" type="text/vtt" language="en"/>'
            '<podcast:transcript url="https://example.com/1.json" type="application/json" language="de"/>')
    feed = parse(rss("Show", [item("One", "g1", audio_url="https://example.com/1.mp3", extra=tags)]), "show")
    assert feed.episodes[0].transcripts == [
        {"url": "https://example.com/1.vtt", "type": "text/vtt", "language": "en"},
        {"url": "https://example.com/1.json", "type": "application/json", "language": "de"},
    ]


def test_malformed_feed_uses_what_parsed_and_warns_once():
    feed = parse((FEEDS / "real-world/no-agenda.xml").read_bytes(), "no-agenda")
    assert len(feed.warnings) == 1 and "malformed" in feed.warnings[0]
    # Podcasting 2.0 links still come through feedparser's flattened view.
    assert feed.episodes[0].transcripts[0]["url"] == "https://mp3s.nashownotes.com/NA-1393-Captions.srt"


def test_itunes_new_feed_url():
    feed = parse((FEEDS / "real-world/sentimental-garbage.xml").read_bytes(), "sg")
    assert feed.new_feed_url == "https://feeds.acast.com/public/shows/edd6bde5-221e-4c07-bde8-2a0241ccc6e0"


def test_duplicate_guids_keep_the_first_and_warn():
    feed = parse(rss("Show", [item("First", "same", audio_url="https://example.com/1.mp3"),
                              item("Second", "same", audio_url="https://example.com/2.mp3"),
                              item("Other", "other", audio_url="https://example.com/3.mp3")]), "show")
    assert [episode.title for episode in feed.episodes] == ["First", "Other"]
    assert feed.warnings == ["1 episode(s) repeat an earlier GUID; kept the first of each"]


def test_missing_enclosure_is_skipped_unless_there_is_a_transcript():
    transcript = '<podcast:transcript url="https://example.com/t.vtt" type="text/vtt"/>'
    feed = parse(rss("Show", [item("No media", "a"), item("Transcript only", "b", extra=transcript),
                              item("Audio", "c", audio_url="https://example.com/c.mp3")]), "show")
    assert [episode.title for episode in feed.episodes] == ["Transcript only", "Audio"]
    assert feed.warnings == ["1 episode(s) have neither audio nor a transcript; skipped"]


def test_stable_key_falls_back_to_enclosure_then_title_and_date():
    transcript = '<podcast:transcript url="https://example.com/t.vtt" type="text/vtt"/>'
    feed = parse(rss("Show", [item("A", None, audio_url="https://example.com/a.mp3"),
                              item("B", None, extra=transcript)]), "show")
    assert [episode.key for episode in feed.episodes] == ["https://example.com/a.mp3", "B\x002025-01-06T06:00:00Z"]


@pytest.mark.parametrize("body, message", [
    (b"", "empty response"),
    (b"   \n ", "empty response"),
    ((FEEDS / "real-world/epic-web.pdf").read_bytes(), "it is a PDF document"),
    (b"<!DOCTYPE html><html><body><p>Welcome</p></body></html>", "it is an HTML page"),
    (b'{"not": "xml"}', "no feed found"),
])
def test_bodies_that_are_not_feeds_are_refused(body, message):
    with pytest.raises(InputError, match=message):
        parse(body, "https://example.com/feed")


def test_bytes_that_look_like_a_path_are_not_opened_as_a_file():
    # feedparser opens local files when handed a path, even as bytes; podbrief must never let it.
    path = str(FEEDS / "podcasting20/partytime-simple.xml").encode()
    with pytest.raises(InputError, match="no feed found"):
        parse(path, "https://example.com/feed")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><guid>a</guid><enclosure url="https://example.com/a.mp3" type="audio/mpeg"/></item>
</channel></rss>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>&xxe;</title>
<item><title>&xxe;</title><guid>a</guid><enclosure url="https://example.com/a.mp3" type="audio/mpeg"/></item>
</channel></rss>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_xml_entity_attacks_are_refused(body):
    with pytest.raises(InputError, match="refused: the feed declares XML entities"):
        parse(body, "https://example.com/feed")


@pytest.mark.parametrize("value, seconds", [("4385", 4385.0), ("07:00", 420.0), ("1:05:20", 3920.0),
                                            ("3600.5", 3600.5), ("", None), ("about an hour", None), ("0", None)])
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


def test_show_notes_become_plain_text():
    assert html_to_text("<p>One &amp; two</p><p>Three<br>four <b>bold</b></p>") == "One & two\n\nThree\nfour bold"
