"""Explaining a set: per-transition justifications, the quality summary and the report
text that playlists and the terminal show."""
