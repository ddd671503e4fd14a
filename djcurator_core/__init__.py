"""djcurator_core: harmonic DJ-set ordering, the engine behind `beet djset`.

Three rooms, imported in one direction only (pipeline -> files -> core), each split into
sub-packages named after their concepts:

- `core/`: pure computation, no Temporal, no beets, no file system.
  - `keys.py`, `models.py` (the tracks model), `track_structure.py` (beat grid, phrases),
    `text.py`;
  - `analysis/` BPM, key and energy from samples; `rules/` scoring, key mixability, the
    energy arc and the set rules; `solver/` the ordering solver and its compiled cache;
    `planning/` choosing a set from a pool; `mixing/` mix points between two tracks;
    `options/` the set options; `report/` justifications and the summary.
- `files/`: file I/O, no Temporal, no beets import. `dj_formats/` M3U8, Rekordbox XML and
  Traktor NML; `tagging/` DJ tags read, cached and written; `export.py` beets items to
  tracks; `audio_decode.py` audio to samples.
- `pipeline/`: Temporal. `contracts.py` holds every data shape that crosses Temporal;
  `sets/` DJSetWorkflow, its thin activities and the client; `analysis/` the
  `beet djanalyze` workflow; `workers/` the worker and `djset-worker`; `server/` the
  embedded `temporal server start-dev` and the long-running `beet djset --serve`;
  `schedules.py` nightly sets.

Beside them: `errors.py` (`DJSetError`, the one base of user-facing errors),
`process.py` (exit and signal handling for processes that used Temporal) and `cli.py`
(`python -m djcurator_core sequence|matrix|schema`). The beets plugin is `beetsplug/djset/`.
"""
