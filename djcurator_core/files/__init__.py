"""File I/O: reading DJ tags from audio files, exporting beets items to tracks, and
writing playlists atomically.

These modules touch the file system but import neither Temporal nor beets (the export
takes plain item-like objects), so the plugin and the worker share them.
"""
