"""Ranking insights for the brief: score.py (the score of one insight), select.py (the top), ratings.py."""
