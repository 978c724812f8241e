"""Word error rate and diarization error rate as the tests and the benchmarks measure them.

Text is normalised first so that spelling conventions are not counted as errors:
case, punctuation, hyphens, fillers ("uh", "um"), "Mr." vs "mister", digits vs
number words. The same normalisation applies to every system compared.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import jiwer
import numpy as np

SPEECH = Path(__file__).parents[1] / "fixtures" / "speech"
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


Turns = list[tuple[str, float, float]]  # (speaker, start, end) in seconds


def der(reference: Turns, hypothesis: Turns, step: float = 0.01) -> float:
    """Diarization error rate: (missed + false alarm + confused speech) / reference speech.

    Scored on 10 ms frames, without a collar, overlapping speech counted per speaker; the
    hypothesis speakers are mapped one-to-one onto the reference speakers the way that
    makes the error smallest (NIST md-eval's definition)."""
    frames = int(max(end for _, _, end in reference + hypothesis) / step) + 1

    def activity(turns: Turns) -> np.ndarray:
        speakers = sorted({speaker for speaker, _, _ in turns})
        active = np.zeros((len(speakers), frames), bool)
        for speaker, start, end in turns:
            active[speakers.index(speaker), int(round(start / step)): int(round(end / step))] = True
        return active

    ref, hyp = activity(reference), activity(hypothesis)
    overlap = ref.astype(int) @ hyp.T.astype(int)
    small, large = sorted(overlap.shape)
    matrix = overlap if overlap.shape[0] == small else overlap.T
    correct = max(sum(matrix[i, j] for i, j in zip(range(small), chosen))
                  for chosen in itertools.permutations(range(large), small))
    n_ref, n_hyp = ref.sum(axis=0), hyp.sum(axis=0)
    errors = np.maximum(n_ref, n_hyp).sum() - correct
    return float(errors / n_ref.sum())
