"""Screenshot a stored brief's HTML page in headless Chromium, light and dark side by side (docs/brief.png).

    podbrief demo --home /tmp/demo
    python scripts/brief_screenshot.py /tmp/demo/briefs/<date>.json docs/brief.png

Needs Debian's `chromium`. The two halves are joined by a second page that shows both
screenshots, so no imaging library is needed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from podbrief import render  # noqa: E402

WIDTH, HEIGHT = 500, 760


def shoot(chromium: str, page: Path, out: Path, size: tuple[int, int], *flags: str) -> None:
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                    f"--user-data-dir={page.parent / 'profile'}", f"--window-size={size[0]},{size[1]}",
                    f"--screenshot={out}", *flags, page.as_uri()], check=True, capture_output=True, timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("brief", type=Path, help="a stored brief (podbrief.brief/1 JSON)")
    parser.add_argument("out", type=Path, help="the PNG to write")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or sys.exit("needs chromium (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "brief.html"
        page.write_text(render.html_page(json.loads(args.brief.read_text(encoding="utf-8"))), encoding="utf-8")
        shoot(chromium, page, Path(tmp) / "light.png", (WIDTH, HEIGHT))
        shoot(chromium, page, Path(tmp) / "dark.png", (WIDTH, HEIGHT), "--force-dark-mode")
        both = Path(tmp) / "both.html"
        both.write_text('<body style="margin:0;display:flex"><img src="light.png"><img src="dark.png"></body>')
        shoot(chromium, both, args.out.resolve(), (2 * WIDTH, HEIGHT))


if __name__ == "__main__":
    main()
