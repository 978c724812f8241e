"""Transcript, feed and model text is data, never instructions: what goes into a prompt goes through here."""

from __future__ import annotations

import re

# Chat-template control tokens of the model families podbrief runs (ChatML, Llama 2, SmolLM's <s>).
_SPECIAL = re.compile(r"<\|[^|<>]{0,40}\|>|</?s>|\[/?INST\]")


def neutralize(text: str) -> str:
    """Break up chat-template control tokens in untrusted text so it can never open a new turn."""
    return _SPECIAL.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›").replace("[", "(").replace("]", ")"),
                        text)
