"""Transcribing audio: job.py (one job, from audio to transcript document) and pool.py (worker processes
and split episodes). stages/transcribe.py is the stage that drives them."""
