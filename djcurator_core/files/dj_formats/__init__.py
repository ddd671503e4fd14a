"""The files DJ software imports: M3U8 playlists, Rekordbox XML and Traktor NML, written
atomically, with the per-track notes the XML formats carry."""
