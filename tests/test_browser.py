"""The HTML brief in a real browser (headless Chromium) and through an HTML validator (tidy).

`.ci/run` installs Debian's `chromium` and `tidy` when they are missing; without them these tests
skip and say so.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from support import png
from support.briefdata import hostile_brief, sample_brief

from podbrief import render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TIDY = shutil.which("tidy")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="needs headless Chromium: apt-get install chromium (.ci/run does this)")


class Page(HTMLParser):
    """What a browser's DOM holds: its text, link targets, audio sources and the attributes of <body>."""

    def __init__(self, dom: str):
        super().__init__()
        self.text: list[str] = []
        self.links: list[str] = []
        self.audio: list[str] = []
        self.body: dict[str, str | None] = {}
        self.tags: list[str] = []
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if tag == "a":
            self.links.append(found.get("href") or "")
        elif tag == "audio":
            self.audio.append(found.get("src") or "")
        elif tag == "body":
            self.body = found

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def shown(self) -> str:
        return " ".join(" ".join(self.text).split())


def write_page(tmp_path: Path, brief: dict, name: str = "brief.html") -> Path:
    page = tmp_path / name
    page.write_text(render.html_page(brief, explain=True), encoding="utf-8")
    return page


def chromium(tmp_path: Path, *args: str) -> str:
    """Run headless Chromium (scripts enabled, so injected markup would run); returns its stdout."""
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
               "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def dump_dom(tmp_path: Path, page: Path) -> Page:
    return Page(chromium(tmp_path, "--dump-dom", page.as_uri()))


def screenshot(tmp_path: Path, page: Path, name: str, *args: str) -> Path:
    shot = tmp_path / name
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=720,1100", *args, page.as_uri())
    return shot


@needs_chromium
def test_dom_shows_every_item_quote_and_link(tmp_path):
    brief = sample_brief()
    dom = dump_dom(tmp_path, write_page(tmp_path, brief))
    shown = dom.shown()
    for item in brief["items"]:
        for insight in [item["insight"], *item["related"]]:
            assert render.clean(insight["text"]) in shown
            link = render.safe_url(insight["quote"]["link"])
            assert link is None or link in dom.links
        assert render.clean(item["insight"]["quote"]["text"]) in shown
        assert render.source_line(item["insight"]) in shown
    assert "disagrees" in shown  # the related insight's stance
    assert dom.audio == ["https://podcasts.example/a1a1a1a1a1a1a1a1.mp3#t=72"]  # the player starts at the quote
    assert "Listen from 1:12" in shown
    assert not any(link.startswith("javascript:") for link in dom.links)
    assert "script" not in dom.tags


@needs_chromium
def test_hostile_text_shows_literally_and_runs_nothing(tmp_path):
    brief = hostile_brief()
    dom = dump_dom(tmp_path, write_page(tmp_path, brief))
    shown = dom.shown()
    assert "data-pwned" not in dom.body and "script" not in dom.tags and "img" not in dom.tags
    evil = brief["items"][0]["insight"]
    assert render.clean(evil["episode"]["title"]) in shown  # <script> and [bold] as text
    assert "[bold]Title[/bold]" in shown and '<script>document.body.dataset.pwned="script"</script>' in shown
    assert render.clean(evil["text"]) in shown and render.clean(evil["quote"]["text"]) in shown
    assert "https://podcasts.example/ep.mp3?a=%22%3E%3Cscript%3Ealert(1)%3C/script%3E#t=61" in dom.links


def pixels(shot: Path) -> list[tuple[int, ...]]:
    width, height, found = png.read(shot)
    assert (width, height) == (720, 1100)
    return found


def brightness(pixel: tuple[int, ...]) -> float:
    return sum(pixel) / 3


@needs_chromium
@pytest.mark.parametrize("scheme, flags", [("light", ()), ("dark", ("--force-dark-mode",))])
def test_screenshot_is_not_blank_in_either_colour_scheme(tmp_path, scheme, flags):
    shot = screenshot(tmp_path, write_page(tmp_path, sample_brief()), f"{scheme}.png", *flags)
    found = pixels(shot)
    values = [brightness(p) for p in found[::7]]
    assert statistics.pstdev(values) > 8  # text and cards drawn, not one flat colour
    assert len(set(found)) > 50  # many shades: anti-aliased text
    background = brightness(found[0])
    assert background > 230 if scheme == "light" else background < 40
    text_pixels = [v for v in values if (v < 100 if scheme == "light" else v > 160)]
    assert len(text_pixels) > 500  # legible text: dark on light, light on dark


@pytest.mark.skipif(TIDY is None, reason="needs tidy (Debian package tidy; .ci/run installs it)")
@pytest.mark.parametrize("make", [sample_brief, hostile_brief], ids=["sample", "hostile"])
def test_page_passes_the_html_validator(tmp_path, make):
    page = write_page(tmp_path, make())
    done = subprocess.run([TIDY, "-quiet", "-errors", "--show-warnings", "yes", str(page)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr  # 1: warnings, 2: errors
    assert done.stderr == ""
