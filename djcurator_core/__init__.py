"""DJ set engine: track format, keys, scoring, sequencing, justifications, Temporal pipeline."""
