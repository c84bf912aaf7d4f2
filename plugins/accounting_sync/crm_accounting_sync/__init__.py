"""Bidirectional sync with accounting systems."""
