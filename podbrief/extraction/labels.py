"""An insight's kind and its scores, from its wording and its quote, without a model.

Measured (docs/extract.md): the default 0.5B model answered every kind question with the
same kind, and its 1-5 ratings did not tell a vague sentence from a specific one. The
insight's own wording carries the signal instead: the reporting verb the writer chose
("predicts", "recommends"), numbers and names, contrast and advice cues.
"""

from __future__ import annotations

import re

NUMBER = re.compile(r"\d|\b(?:half|double|twice|triple|percent|per cent|million|billion|thousand|hundred)\b", re.IGNORECASE)
NAME = re.compile(r"(?<=[a-z,;:]\s)[A-Z][A-Za-z'-]+")


def _cue(*phrases: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(phrases) + r")\b", re.IGNORECASE)


CONTRARIAN = _cue("contrary", "against the (?:consensus|grain|view)", "myth", "misconceptions?", "overrated",
                  "not true", "wrong", "disputes?", "rejects?", "challenges? the", "despite", "counter-?intuitive")
PREDICTION = _cue("predicts?", "expects?", "forecasts?", "will", "going to", "by 20\\d\\d", "in the future", "next year")
ADVICE = _cue("recommends?", "advises?", "urges?", "should", "needs? to", "must", "calls? for", "encourages?", "suggests? that")
CONTRAST = _cue("but", "however", "actually", "although", "instead", "rather than", "surprising(?:ly)?", "not")
VERBS = {"predicts": "prediction", "expects": "prediction", "forecasts": "prediction", "recommends": "advice",
         "advises": "advice", "urges": "advice", "warns": "claim", "reports": "data point"}


def kind_of(text: str, speaker: str) -> str:
    """claim / data point / prediction / advice / contrarian view, from the writer's verb and cues."""
    rest = text[len(speaker):] if text[:len(speaker)].lower() == speaker.lower() else text
    verb = rest.split()[0].lower() if rest.split() else ""
    if CONTRARIAN.search(rest):
        return "contrarian view"
    if VERBS.get(verb) in ("prediction", "advice"):
        return VERBS[verb]
    if PREDICTION.search(rest):
        return "prediction"
    if ADVICE.search(rest):
        return "advice"
    if NUMBER.search(rest):
        return "data point"
    return VERBS.get(verb, "claim")


def scores(text: str, quote: str, kind: str, speaker: str) -> dict[str, float]:
    """0-1 scores for the ranker. specificity: numbers and names in the insight and its quote;
    actionability: advice; surprise: contrast and contrarian cues; novelty: information that is
    new by nature (data, predictions, contrarian views) and specific."""
    rest = re.sub(re.escape(speaker), "", text, flags=re.IGNORECASE)
    numbers = len(NUMBER.findall(rest)) + len(NUMBER.findall(quote))
    names = len(NAME.findall(rest))
    specificity = min(1.0, 0.2 + 0.15 * numbers + 0.1 * names)
    actionability = 0.8 if kind == "advice" else min(0.6, 0.1 + 0.25 * len(ADVICE.findall(rest)))
    surprise = 0.8 if kind == "contrarian view" else min(0.6, 0.2 + 0.1 * len(CONTRAST.findall(rest)))
    novelty = min(1.0, (0.5 if kind in ("data point", "prediction", "contrarian view") else 0.3) + 0.3 * specificity)
    return {"novelty": round(novelty, 2), "surprise": round(surprise, 2), "actionability": round(actionability, 2),
            "specificity": round(specificity, 2)}
