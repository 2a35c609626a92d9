"""Podcast and video timestamp indexer: download, transcribe, search, deep-link."""

__version__ = "0.1.0"
