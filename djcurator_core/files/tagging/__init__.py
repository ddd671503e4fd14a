"""DJ tags in audio files: reading them (tags only, many files at once), the cache of what
was read, and writing analysed values back when the user asks."""
