"""Word error rate as the transcribe tests and `benchmarks/transcribe.py` measure it.

Text is normalised first so that spelling conventions are not counted as errors:
case, punctuation, hyphens, fillers ("uh", "um"), "Mr." vs "mister", digits vs
number words. The same normalisation applies to every system compared.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jiwer

SPEECH = Path(__file__).parent / "fixtures" / "speech"
FILLERS = {"uh", "um", "er", "erm", "ah", "hmm", "mm", "mhm", "uhm"}
SPELLINGS = {
    "mr": "mister", "mrs": "missus", "dr": "doctor", "ok": "okay", "alright": "all right", "yknow": "you know",
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven",
    "8": "eight", "9": "nine", "10": "ten", "paediatric": "pediatric", "paediatrics": "pediatrics",
}


def normalise(text: str) -> str:
    text = re.sub(r"[-‐–—_/]", " ", text.lower())
    text = re.sub(r"[^\w' ]", " ", text)
    words = []
    for word in text.split():
        word = word.strip("'")
        if word and word not in FILLERS:
            words.extend(SPELLINGS.get(word, word).split())
    return " ".join(words)


def wer(references: list[str], hypotheses: list[str]) -> float:
    """Corpus WER in percent (errors over all reference words)."""
    return 100 * jiwer.wer([normalise(r) for r in references], [normalise(h) for h in hypotheses])


def fixture_references() -> dict[str, str]:
    """{file name in tests/fixtures/speech: reference transcript}."""
    return json.loads((SPEECH / "references.json").read_text(encoding="utf-8"))
