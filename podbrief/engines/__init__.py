"""The heavy engines behind the stages: faster-whisper (whisper.py), llama.cpp (llm.py), e5 embeddings (embed.py), speaker embeddings (diarize.py)."""
