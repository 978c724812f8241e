"""Extraction logic behind `podbrief extract`: passages, speakers, the LLM writer, grounding."""
