"""The plugin's `djset:` configuration: its defaults, and the settings read from it.

`DEFAULTS` is what `DJSetPlugin` adds to beets' config (every key documented in
docs/format.md and the README); `Settings` turns the configured values, with the command
line over them, into what the core takes: where runs go (`server`), the connection, the
local service's state folder, the worker's scope and memory budget, the payload store.
A bad value is a one-line `UserError` naming the setting. The core is imported inside the
methods, as everywhere in the plugin: beets loads the plugin for every command.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beets import ui

from beetsplug.djset.analyze_commands import ANALYZE_DEFAULTS
from beetsplug.djset.set_output import option_or_config
from djcurator_core.core.options.set_option_flags import configurable_defaults

if TYPE_CHECKING:
    import logging
    from optparse import Values

    import confuse
    from beets.library import Library


def defaults() -> dict[str, Any]:
    """The `djset:` defaults (a new dict each time: beets' config keeps what it is given)."""
    return {
        "playlist_dir": ".",
        "relative_to": None,  # None: absolute paths; "playlist", "library" or a folder
        "forward_slash": False,
        "format": "m3u8",  # or a list: [m3u8, rekordbox, nml] (docs/formats.md)
        "keep_incomplete": False,
        # --format mixxx (docs/mixxx.md): the set into Mixxx's own database
        "mixxx": {
            "database": "",  # empty: the platform's Mixxx folder (~/.mixxx/...)
            "autodj": "off",  # or append / replace: the Auto DJ queue
            "crate": "",  # a crate name: the set's tracks go in it too
        },
        "temporal": {
            "address": "",  # empty: TEMPORAL_* / temporal.toml, else embedded server
            "namespace": "",
            "task_queue": "djset",
            "api_key": "",
            "tls": None,
            "profile": "",
            "worker_wait": 5.0,  # seconds to wait for a worker to poll the queue
        },
        "scoring": {},  # fields of ScoringConfig, e.g. harmonic_weight: 0.6
        "set": configurable_defaults(),
        "schedule": {
            "timezone": "",  # empty: this machine's time zone
            "catchup_window": "12h",  # runs missed by less than this are made up
            "fresh_sets": 3,  # runs hold back the tracks of this many last sets
        },
        # What the `--serve` worker may touch besides djset.playlist_dir and this
        # beets library (docs/hardening.md): a request never decides that.
        "worker": {
            "allowed_dirs": [],  # more folders it may write playlists in
            "libraries": [],  # more beets library databases (or folders of them)
            "tracks_dirs": [],  # folders it may read tracks_enriched files from
            # memory its heavy steps may hold at once, e.g. 4G (docs/scale.md);
            # empty: DJSET_WORKER_MEMORY, else 60 % of this machine's memory
            "memory_limit": "",
        },
        # folder of large payloads passed by reference; workers on several
        # machines need one shared folder. Empty: DJSET_PAYLOAD_STORE, else
        # ~/.cache/beets-djset/payloads
        "payload_store": "",
        "analyze": dict(ANALYZE_DEFAULTS),
        "serve": {
            "port": 7233,  # the embedded Temporal server's gRPC port (loopback)
            "ui_port": 8233,  # its Web UI (loopback); null: no Web UI
            "state_dir": "",  # empty: <beets config folder>/djset
        },
    }


class Settings:
    """The plugin's configured settings (`config`: its `djset:` view), with the command
    line's options over them where a flag exists."""

    def __init__(self, config: confuse.ConfigView, log: logging.Logger) -> None:
        self.config = config
        self._log = log

    def worker_scope(self, lib: Library):
        """What the `--serve` worker may touch, from this configuration: playlists in
        djset.playlist_dir and djset.worker.allowed_dirs, this beets library and
        djset.worker.libraries, tracks files in djset.worker.tracks_dirs, sets into the
        Mixxx database djset.mixxx.database (only when it is set)."""
        from djcurator_core.pipeline.workers.worker_scope import WorkerScope

        worker = self.config["worker"]

        def paths(*values: str) -> tuple[str, ...]:
            return tuple(os.path.abspath(os.path.expanduser(value)) for value in values)

        where = "in the beets config of `beet djset --serve`"
        return WorkerScope(
            playlist_dirs=paths(
                self.config["playlist_dir"].as_str(), *worker["allowed_dirs"].as_str_seq()
            ),
            libraries=paths(os.fsdecode(lib.path), *worker["libraries"].as_str_seq()),
            tracks_dirs=paths(*worker["tracks_dirs"].as_str_seq()),
            # only a database named in the config: a request never picks the user's Mixxx
            mixxx_databases=paths(*filter(None, [self.config["mixxx"]["database"].as_str()])),
            settings={
                "playlist": f"djset.playlist_dir or djset.worker.allowed_dirs {where}",
                "library": f"djset.worker.libraries {where}",
                "tracks": f"djset.worker.tracks_dirs {where}",
                "mixxx": f"djset.mixxx.database {where}",
            },
        )

    def memory_limit(self) -> int | None:
        """djset.worker.memory_limit in bytes: the budget of the heavy steps of this
        process's worker (embedded or `--serve`); None: memory_gate's default."""
        from djcurator_core.pipeline.workers.memory_gate import MemorySizeError, parse_size

        value = self.config["worker"]["memory_limit"].get()
        if value in (None, ""):
            return None
        try:
            return parse_size(value)
        except MemorySizeError as exc:
            raise ui.UserError(f"djset.worker.memory_limit: {exc}") from None

    def use_payload_store(self) -> None:
        """Make djset.payload_store the payload store of this process: every client and
        worker it runs reads it (payload_store.default_folder, like `djset-worker
        --payload-store`)."""
        from djcurator_core.pipeline.payload_store import STORE_ENV

        folder = self.config["payload_store"].as_str()
        if folder:
            os.environ[STORE_ENV] = os.path.abspath(os.path.expanduser(folder))

    def keep_incomplete(self, opts: Values) -> bool:
        return option_or_config(opts.keep_incomplete, self.config["keep_incomplete"].get(bool))

    def server(self, opts: Values, announce: bool = False):
        """Where runs go (set_runs.find_server): the configured server, else the running
        local service, else none (an embedded one for a one-off run)."""
        from djcurator_core.pipeline.sets.set_runs import find_server

        self.use_payload_store()
        settings = self.connection_settings(opts)
        found = find_server(settings, self.task_queue(opts), self.state_dir())
        if announce and found.service is not None:  # a one-off run: say where it goes
            self._log.info("using the local service ({})", found.service.describe())
        return found

    def connection_settings(self, opts: Values):
        """djset.temporal.* with --address over it (Temporal's own config fills the rest)."""
        from djcurator_core.pipeline.sets.client import ConnectionSettings

        temporal = self.config["temporal"]
        return ConnectionSettings(
            address=opts.address or temporal["address"].as_str() or None,
            namespace=temporal["namespace"].as_str() or None,
            api_key=temporal["api_key"].as_str() or None,
            tls=temporal["tls"].get(),
            profile=temporal["profile"].as_str() or None,
        )

    def state_dir(self) -> Path:
        from beets import config

        configured = self.config["serve"]["state_dir"].as_str()
        if configured:
            return Path(os.path.expanduser(configured)).absolute()
        return Path(config.config_dir()) / "djset"

    def task_queue(self, opts: Values) -> str:
        return opts.task_queue or self.config["temporal"]["task_queue"].as_str()

    def worker_wait(self) -> float:
        return self.config["temporal"]["worker_wait"].as_number()
