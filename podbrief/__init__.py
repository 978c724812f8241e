"""podbrief: a local daily brief of the top insights from the podcasts you follow."""

__version__ = "0.1.0"
