"""Writing a set into Mixxx's own library database (`--format mixxx`).

mixxx_rows.py decides what to write (pure: which tracks to add, which cues and beat
grids, in Mixxx's units); mixxx_database.py reads the database, checks that it may be
written, and writes the rows in one transaction; mixxx_running.py tells whether a running
Mixxx holds the database. docs/mixxx.md says what is written and what never is.
"""
