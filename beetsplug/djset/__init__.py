"""`beet djset QUERY`: order the matching tracks for harmonic mixing, write a playlist.

A thin command layer over djcurator_core: read the options and the `djset:` config,
export the items (files/export.py) and run DJSetWorkflow (pipeline/sets/set_runs.py); the
playlist files, `--print` and `--export` are written by set_output.py. Schedules and the
local service (`--schedule*`, `--serve`) are in schedule_commands.py; `beet djanalyze`,
`--analyze` and analysis on import in analyze_commands.py. Every user-facing error of
the core is a `DJSetError`, shown as beets' one-line `error: ...` with exit status 1.
The library and the audio files are only read, never written.

The core (numpy, pydantic, numba, temporalio) is imported inside the methods that use
it: beets loads every enabled plugin for every command, and `beet ls` should not pay for
it. Only the light list of set-option flags is imported here, to build the parser.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from beets import plugins, ui
from beets.dbcore import types
from beets.plugins import BeetsPlugin

from beetsplug.djset.analyze_commands import (
    ANALYZE_DEFAULTS,
    ImportAnalysis,
    analyze_command,
    report_key_confidence,
)
from beetsplug.djset.set_output import SetOutput, option_or_config
from djcurator_core.core.options.set_option_flags import (
    CONFIGURABLE,
    SET_OPTION_FLAGS,
    configurable_defaults,
)

if TYPE_CHECKING:
    from optparse import Values

    from beets.library import Library

    from djcurator_core.core.options.set_options import SetOptions
    from djcurator_core.core.report.justify import SetResult
    from djcurator_core.files.export import Export

# Exit with os._exit once Temporal work is done (process.exit_now). None = only when this
# process is beets' command line, not when beets runs inside another program (pytest).
EXIT_AFTER_TEMPORAL: bool | None = None


def user_errors(method):
    """Run a command method with the core's one-line errors (DJSetError) as beets'
    UserError: the one place they are translated."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        from djcurator_core.errors import DJSetError

        try:
            return method(*args, **kwargs)
        except DJSetError as exc:
            raise ui.UserError(str(exc)) from None

    return wrapper


class DJSetPlugin(BeetsPlugin):
    # bpm_precise: the analysed tempo with its decimals (beets' own bpm is an integer).
    item_types = {
        "energy": types.FLOAT,
        "bpm_precise": types.FLOAT,
        "key_confidence": types.FLOAT,  # beet djanalyze: 0..1, beside initial_key
        "bpm_start": types.FLOAT,  # ... a tempo change inside the track
        "bpm_end": types.FLOAT,
    }

    def __init__(self) -> None:
        super().__init__()
        self.config.add(
            {
                "playlist_dir": ".",
                "relative_to": None,  # None: absolute paths; "playlist", "library" or a folder
                "forward_slash": False,
                "format": "m3u8",  # or a list: [m3u8, rekordbox, nml] (docs/formats.md)
                "keep_incomplete": False,
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
        )
        self.config["temporal"]["api_key"].redact = True
        self.output = SetOutput(self.config, self._log)  # playlist files, --print, --export
        ImportAnalysis(self)  # djset.analyze.auto

    # --- command line ------------------------------------------------------------------

    def commands(self) -> list[ui.Subcommand]:
        from beetsplug.djset.schedule_commands import add_schedule_options

        cmd = ui.Subcommand("djset", help="order matching tracks into a DJ set, write a playlist")
        cmd.parser.usage = (
            "%prog [options] QUERY\n       %prog --collect WORKFLOW_ID [options]\n"
            "       %prog --schedule CRON [--timezone TZ] [-n NAME] [options] QUERY\n"
            "       %prog --schedules | --schedule-show|-pause|-unpause|-trigger|-delete NAME\n"
            "       %prog --serve\n"
            "QUERY is a beets query; --start and --end take queries that match one track."
        )
        add = cmd.parser.add_option
        add("-n", "--name", help="set name: playlist title and file name (default: the query)")
        add("--export", metavar="FILE", help="write the tracks_enriched JSON (- for stdout), stop")
        add("--print", dest="print_set", action="store_true", help="show the set, write nothing")
        add(
            "--analyze",
            action="store_true",
            help="first estimate BPM, key and energy where missing (beet djanalyze)",
        )
        add(
            "--format",
            help="playlist formats, comma-separated: m3u8 (default), json, rekordbox, nml",
        )
        add("--no-wait", action="store_true", help="start the workflow, print its id, return")
        add("--collect", metavar="WORKFLOW_ID", help="write the playlist of a finished run")
        add(
            "--keep-incomplete",
            action="store_true",
            default=None,
            help="keep tracks without BPM or key (neutral scores)",
        )
        add("--playlist-dir", metavar="DIR", help="folder of the playlist file")
        add("--relative-to", metavar="DIR", help="write paths relative to DIR, playlist, library")
        add("--forward-slash", action="store_true", default=None, help="'/' in paths")
        add("--address", metavar="HOST:PORT", help="Temporal server (default: config)")
        add("--task-queue", metavar="QUEUE", help="Temporal task queue of the workers")
        for flag in SET_OPTION_FLAGS:  # one definition, shared with the CLI
            # numbers and choices stay text: SetOptions names a bad one in its one-line
            # error (optparse's own would print the usage block and exit 2)
            add(
                flag.flag,
                dest=flag.name,
                type="string",
                action="append" if flag.kind == "list" else "store",
                metavar=flag.metavar or ("|".join(flag.choices) if flag.choices else None),
                help=flag.help,
            )
        add_schedule_options(cmd.parser)
        cmd.func = self.command
        return [cmd, analyze_command(self)]

    def command(self, lib: Library, opts: Values, args: list[str]) -> None:
        from beetsplug.djset.schedule_commands import ScheduleCommands, check_combinations

        mode = check_combinations(opts, args)
        if opts.analyze and (mode is not None or opts.collect):
            raise ui.UserError(
                "--analyze goes with making a set now: a query, not "
                + ("--collect" if opts.collect else "--serve or the --schedule options")
            )
        if mode is not None:
            commands = ScheduleCommands(self)
            self.temporal_command(lib, lambda: commands.run(mode, lib, opts, args))
            return
        if opts.collect:
            self.temporal_command(lib, lambda: self._collect_and_write(lib, opts))
            return
        self._make_set(lib, opts, args)

    @user_errors
    def _make_set(self, lib: Library, opts: Values, args: list[str]) -> None:
        if opts.analyze:  # analyse what is missing first, then the same steps
            self.temporal_command(lib, lambda: self._analyse_and_make_set(lib, opts, args))
            return
        prepared = self._prepare_set(lib, opts, args)
        if prepared is not None:
            self.temporal_command(lib, lambda: self._run_and_write(lib, opts, args, *prepared))

    def _prepare_set(self, lib: Library, opts: Values, args: list[str]):
        """(name, export, options) of the set, or None when --export wrote the tracks."""
        from djcurator_core.files.dj_formats.playlist import name_from_query

        name = opts.name or name_from_query(args)  # cut to fit a file name (bytes)
        if not opts.export:  # an unknown format stops here, before any work
            self.output.output_formats(opts)
        if not (opts.print_set or opts.no_wait or opts.export):
            # before any work: a run must not fail at its very end
            self.output.check_target(lib, opts, self.output.playlist_files(opts, name)[0][1])
        if not opts.export:
            self.memory_limit()  # a bad setting is refused before the export
        export = self._export(lib, args, opts)
        if opts.export:
            self.output.write_export(opts.export, export)
            return None
        return name, export, self.set_options(lib, opts, export)

    def _run_and_write(self, lib: Library, opts: Values, args: list[str], name, export, options):
        self.output.show_or_write(lib, opts, (name, args), *self._run(opts, name, export, options))

    def _analyse_and_make_set(self, lib: Library, opts: Values, args: list[str]) -> None:
        from beetsplug.djset.analyze_commands import analyse_items

        analyse_items(self, lib, lib.items(args), opts=opts)
        prepared = self._prepare_set(lib, opts, args)
        if prepared is not None:
            self._run_and_write(lib, opts, args, *prepared)

    # --- export --------------------------------------------------------------------------

    def _export(self, lib: Library, args: list[str], opts: Values) -> Export:
        from djcurator_core.files.beets_items import matching_items
        from djcurator_core.files.export import check_usable, export_items

        items = matching_items(lib, args)
        shown = " ".join(args) or "(whole library)"
        export = export_items(items, keep_incomplete=self.keep_incomplete(opts))
        for warning in export.warnings:
            self._log.warning("{}", warning)
        if export.skipped:
            self._log.info(
                "left out {} of {} tracks without BPM, key or file{}",
                len(export.skipped),
                len(items),
                "" if self._verbose() else " (`beet -v djset ...` lists them)",
            )
            for skipped in export.skipped:
                self._log.debug("left out {}", skipped)
        if export.incomplete:
            self._log.info(
                "{} tracks without BPM or key kept with neutral scores", export.incomplete
            )
        report_key_confidence(self._log, export.tracks)
        check_usable(
            len(items),
            export,
            shown,
            hint=" (`beet -v djset ...` lists them; --keep-incomplete keeps tracks without "
            "BPM or key)",
        )
        return export

    # --- options -------------------------------------------------------------------------

    def set_options(self, lib: Library, opts: Values, export: Export | None) -> SetOptions:
        """The run's SetOptions: command line over `djset.set` and `djset.scoring`, with
        --start/--end queries resolved to the export's track ids."""
        from djcurator_core.core.options.set_options import resolve_set_options

        given = {name: getattr(opts, name) for name in CONFIGURABLE}
        ids = {track.id for track in export.tracks} if export else set()
        for which in ("start", "end"):
            query = getattr(opts, which)
            if query:
                given[which] = self._pinned_track(lib, which, query, ids)
        if opts.include:
            given["include"] = [
                track_id for query in opts.include for track_id in self._included(lib, query, ids)
            ]
        if given.get("start") is not None and given.get("start") == given.get("end"):
            from djcurator_core.core.text import clean_text

            item = lib.get_item(int(given["start"]))
            raise ui.UserError(
                f"--start {opts.start!r} and --end {opts.end!r} match the same track "
                f"({clean_text(f'{item.artist} - {item.title}')}): a set opens and closes "
                "with different tracks"
            )
        configured = self.config["set"].get(dict) or {}
        scoring = self.config["scoring"].get(dict) or {}
        return resolve_set_options(given, configured, scoring, scoring_source="djset.scoring")

    @staticmethod
    def _included(lib: Library, query: str, ids: set[str]) -> list[str]:
        """Ids of the set's tracks that --include QUERY matches (at least one)."""
        matches = [str(item.id) for item in lib.items(query) if str(item.id) in ids]
        if not matches:
            raise ui.UserError(f"--include {query!r} matches none of the set's tracks")
        return matches

    @staticmethod
    def _pinned_track(lib: Library, which: str, query: str, ids: set[str]) -> str:
        from djcurator_core.core.text import clean_text

        matches = [item for item in lib.items(query) if str(item.id) in ids]
        if len(matches) == 1:
            return str(matches[0].id)
        if not matches:
            raise ui.UserError(f"--{which} {query!r} matches none of the set's tracks")
        shown = clean_text(", ".join(f"{item.artist} - {item.title}" for item in matches[:3]))
        raise ui.UserError(
            f"--{which} {query!r} matches {len(matches)} of the set's tracks ({shown}"
            f"{', ...' if len(matches) > 3 else ''}); it must match one"
        )

    def worker_scope(self, lib: Library):
        """What the `--serve` worker may touch, from this configuration: playlists in
        djset.playlist_dir and djset.worker.allowed_dirs, this beets library and
        djset.worker.libraries, tracks files in djset.worker.tracks_dirs."""
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
            settings={
                "playlist": f"djset.playlist_dir or djset.worker.allowed_dirs {where}",
                "library": f"djset.worker.libraries {where}",
                "tracks": f"djset.worker.tracks_dirs {where}",
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

    def _verbose(self) -> bool:
        return self._log.getEffectiveLevel() <= logging.DEBUG

    # --- Temporal ------------------------------------------------------------------------

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

    def show_progress(self, progress) -> None:
        self._log.info("{}", progress.line())

    def _run(
        self, opts: Values, name: str, export: Export, options: SetOptions
    ) -> tuple[SetResult | None, str]:
        from djcurator_core.pipeline.contracts import SetRequest
        from djcurator_core.pipeline.sets.set_runs import run_set

        request = SetRequest(name=name, tracks=export.tracks, options=options)
        server = self.server(opts, announce=True)
        # a run no worker takes stays on the server: say how to get its playlist later
        collect = f"beet djset --collect {{workflow_id}} -n {_braces(shlex.quote(name))}"
        later = f": `{collect}` writes its playlist once a worker has run it"
        if server.settings is None:  # the embedded server ends with this command
            later = ""
        if server.settings is None:
            self._log.info("no Temporal server configured: starting an embedded one")
        started: list[str] = []

        def on_started(workflow_id: str) -> None:
            started.append(workflow_id)
            self._log.info("started workflow {} with {} tracks", workflow_id, len(export.tracks))
            if opts.no_wait:
                self._log.info(
                    "write its playlist later with: beet djset --collect {} -n {}",
                    workflow_id,
                    shlex.quote(name),
                )

        try:
            result = asyncio.run(
                run_set(
                    server,
                    request,
                    worker_wait=self.worker_wait(),
                    later=later,
                    wait=not opts.no_wait,
                    on_started=on_started,
                    on_progress=self.show_progress,
                    memory_limit=self.memory_limit(),
                )
            )
        except KeyboardInterrupt:
            if started and server.settings is not None:
                self._log.warning(
                    "interrupted: workflow {0} goes on on the server; "
                    "`beet djset --collect {0}` writes its playlist later",
                    started[0],
                )
            raise
        return result, started[0]

    def _collect_and_write(self, lib: Library, opts: Values) -> None:
        """Write the playlist of a finished run; the name is -n, else the one the run was
        started with (its request), the query that of a library run."""
        from djcurator_core.pipeline.sets import client as temporal
        from djcurator_core.pipeline.sets.set_runs import require_lasting_server

        self.output.output_formats(opts)  # an unknown format name: refused before fetching
        settings = require_lasting_server(self.server(opts), "--collect")

        async def fetch():
            connected = await temporal.connect(settings)
            result = await temporal.fetch_result(connected, opts.collect)
            return result, await temporal.fetch_request(connected, opts.collect)

        result, request = asyncio.run(fetch())
        name = opts.name or (request.name if request else opts.collect)
        query = request.library.query if request and request.library else None
        self.output.show_or_write(lib, opts, (name, query), result, opts.collect)

    def temporal_command(self, lib: Library, work) -> None:
        """Run `work` (which may return an exit status) with the core's errors as one-line
        user errors; where this process is beets' command line, leave deliberately
        afterwards (process.exit_now: the SDK can crash at interpreter exit)."""
        from djcurator_core.process import beets_is_main, exit_now

        leave = EXIT_AFTER_TEMPORAL if EXIT_AFTER_TEMPORAL is not None else beets_is_main()
        self.use_payload_store()
        code = 0
        try:
            code = user_errors(work)() or 0
        except ui.UserError as exc:
            if not leave:
                raise
            ui.log.error("error: {}", exc.args[0] if exc.args else exc)
            code = 1
        except KeyboardInterrupt:
            if not leave:
                raise
            code = 130
        if leave:
            from djcurator_core.pipeline.beets_library import close_library

            plugins.send("cli_exit", lib=lib)
            close_library(lib)  # as beets' own command line does before it returns
            exit_now(code)


def _braces(text: str) -> str:
    """`text` kept as it is by str.format."""
    return text.replace("{", "{{").replace("}", "}}")
