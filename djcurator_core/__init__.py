"""djcurator_core: harmonic DJ-set ordering, the engine behind `beet djset`.

Three rooms, imported in one direction only (pipeline -> files -> core):

- `core/`: pure computation. Keys and notations, the tracks model, scoring, the solver,
  selection of a set from a pool, energy arcs, justifications, the set options. No
  Temporal, no beets, no file system: unit-tested without a server.
- `files/`: file I/O. DJ tags in audio files, exporting beets items to tracks,
  playlists written atomically. No Temporal, no beets import.
- `pipeline/`: Temporal. `contracts.py` holds every data shape that crosses Temporal;
  `workflows.py` DJSetWorkflow; `set_activities.py` and `library_activities.py` its
  thin activities; `client.py` connects and starts runs; `set_runs.py` runs one set
  from a command; `worker.py` and `worker_command.py` (`djset-worker`) the worker;
  `schedules.py` nightly sets; `dev_server.py` the embedded `temporal server
  start-dev`; `local_service.py` the long-running `beet djset --serve`.

Beside them: `errors.py` (`DJSetError`, the one base of user-facing errors),
`process.py` (exit and signal handling for processes that used Temporal) and `cli.py`
(`python -m djcurator_core sequence|matrix|schema`). The beets plugin is `beetsplug/djset/`.
"""
