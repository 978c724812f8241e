"""Helpers the tests share (and the benchmarks, as `tests.support`): a local HTTP feed server, an SMTP
server, crafted briefs and insights, speech fixtures with WER/DER, and golden-file checks."""
