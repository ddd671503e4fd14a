"""`beet djset QUERY`: order the matching tracks for harmonic mixing, write an M3U8 playlist.

A thin command layer over djcurator_core: export the items (export.py), run
DJSetWorkflow on the configured Temporal server or on an embedded one (client.py,
runtime.py), render and write the playlist (playlist.py). Problems surface as
beets' one-line `error: ...` with exit status 1. The library and the audio files are
only read, never written.

Nightly sets: `--schedule CRON QUERY` and the `--schedule-*` options manage Temporal
Schedules (schedules.py) whose runs export the query and write the playlist on a worker;
`--serve` runs the local service (service.py): dev server, Web UI and that worker.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from beets import plugins, ui
from beets.dbcore import types
from beets.plugins import BeetsPlugin

if TYPE_CHECKING:
    from beets.library import Library

    from djcurator_core.core.justify import SetResult
    from djcurator_core.core.planning import SetOptions
    from djcurator_core.files.export import Export

# The core (numpy, pydantic, numba) is imported inside the methods that use it: beets
# loads every enabled plugin for every command, and `beet ls` should not pay for it.
# These copies of core constants are checked against the core by tests/test_plugin.py.
OUTPUT_FORMATS = ("m3u8", "json")
ENERGY_ARCS = ("none", "rise", "peak", "wave")
SOLVER_NAMES = ("ils", "greedy", "naive")
# Defaults of the set options a run may take from the `djset.set` config section: the
# core's `SetOptions` defaults (start/end are per run, never configured).
SET_DEFAULTS = {
    "solver": "ils",
    "seed": 0,
    "time_budget": None,
    "max_bpm_jump": None,
    "energy_arc": "none",
    "arc_weight": 0.5,
    "count": None,
    "duration": None,
}

# Exit with os._exit once Temporal work is done: the SDK can crash at interpreter exit
# (sdk-python #300, NOTES.md 5). None = only when this process is beets' command line,
# not when beets runs inside another program (such as pytest).
EXIT_AFTER_TEMPORAL: bool | None = None


class DJSetOptions(Protocol):
    name: str | None
    export: str | None
    print_set: bool
    format: str | None
    no_wait: bool
    collect: str | None
    keep_incomplete: bool
    playlist_dir: str | None
    relative_to: str | None
    forward_slash: bool | None
    address: str | None
    task_queue: str | None
    schedule: str | None
    timezone: str | None
    schedules: bool
    schedule_show: str | None
    schedule_pause: str | None
    schedule_unpause: str | None
    schedule_trigger: str | None
    schedule_delete: str | None
    serve: bool
    solver: str | None
    start: str | None
    end: str | None
    seed: int | None
    time_budget: float | None
    max_bpm_jump: float | None
    energy_arc: str | None
    arc_weight: float | None
    count: int | None
    duration: str | None


class DJSetPlugin(BeetsPlugin):
    item_types = {"energy": types.FLOAT}

    def __init__(self) -> None:
        super().__init__()
        self.config.add(
            {
                "playlist_dir": ".",
                "relative_to": None,  # None: absolute paths; "playlist", "library" or a folder
                "forward_slash": False,
                "format": "m3u8",
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
                "set": dict(SET_DEFAULTS),
                "schedule": {
                    "timezone": "",  # empty: this machine's time zone
                    "catchup_window": "12h",  # runs missed by less than this are made up
                },
                "serve": {
                    "port": 7233,  # the embedded Temporal server's gRPC port (loopback)
                    "ui_port": 8233,  # its Web UI (loopback); null: no Web UI
                    "state_dir": "",  # empty: <beets config folder>/djset
                },
            }
        )
        self.config["temporal"]["api_key"].redact = True

    # --- command line ------------------------------------------------------------------

    def commands(self) -> list[ui.Subcommand]:
        cmd = ui.Subcommand(
            "djset", help="order matching tracks into a DJ set and write an M3U8 playlist"
        )
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
        add("--format", type="choice", choices=OUTPUT_FORMATS, help="m3u8 (default) or json")
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
        add("--solver", help=f"ordering algorithm: {', '.join(SOLVER_NAMES)}")
        add("--start", metavar="QUERY", help="the track to open with (must match one track)")
        add("--end", metavar="QUERY", help="the track to close with (must match one track)")
        add("--seed", type="int", help="random seed of the search")
        add("--time-budget", type="float", metavar="SECONDS", help="search time at most")
        add("--max-bpm-jump", type="float", metavar="PERCENT", help="largest BPM change")
        add("--energy-arc", type="choice", choices=ENERGY_ARCS, help="none, rise, peak or wave")
        add("--arc-weight", type="float", help="how strongly to follow the energy arc")
        add("--count", type="int", help="number of tracks in the set")
        add("--duration", help="set length, e.g. 90m or 1h30m")
        add(
            "--schedule",
            metavar="CRON",
            help="create or update a schedule that writes this set's playlist at these times, "
            "e.g. '0 3 * * *' (03:00 daily); the query is evaluated at each run",
        )
        add("--timezone", metavar="TZ", help="time zone of --schedule (default: this machine's)")
        add("--schedules", action="store_true", help="list the schedules")
        add("--schedule-show", metavar="NAME", help="a schedule's times, next and recent runs")
        add("--schedule-pause", metavar="NAME", help="pause a schedule")
        add("--schedule-unpause", metavar="NAME", help="resume a paused schedule")
        add(
            "--schedule-trigger", metavar="NAME", help="run a schedule now (waits unless --no-wait)"
        )
        add("--schedule-delete", metavar="NAME", help="delete a schedule")
        add(
            "--serve",
            action="store_true",
            help="run the local service until Ctrl-C/SIGTERM: Temporal server, Web UI, worker",
        )
        cmd.func = self.command
        return [cmd]

    def command(self, lib: Library, opts: DJSetOptions, args: list[str]) -> None:
        from djcurator_core.files.playlist import check_writable, name_from_query

        managed = self._check_option_combinations(opts, args)
        if opts.serve:
            self._temporal_command(lib, lambda: self._serve(opts))
            return
        if managed:
            self._temporal_command(lib, lambda: self._manage_schedule(opts, *managed))
            return
        if opts.schedule is not None:
            self._temporal_command(lib, lambda: self._create_schedule(lib, opts, args))
            return
        if opts.collect:
            self._temporal_command(lib, lambda: self._output(lib, opts, *self._collect(opts)))
            return
        name = opts.name or name_from_query(args)
        export = self._export(lib, args, opts)
        if opts.export:
            self._write_export(opts.export, export)
            return
        options = self._set_options(lib, opts, export)
        target = None if opts.print_set or opts.no_wait else self._playlist_path(opts, name)
        if target is not None:
            _user_errors(check_writable, target.parent)
        self._temporal_command(
            lib,
            lambda: self._output(lib, opts, (name, args), *self._run(opts, name, export, options)),
        )

    def _check_option_combinations(
        self, opts: DJSetOptions, args: list[str]
    ) -> tuple[str, str | None] | None:
        """Refuse options that do not go together; the schedule action given, if any."""
        managed = self._schedule_action(opts)
        modes = [
            name
            for name, given in (
                ("--serve", opts.serve),
                ("--schedule", opts.schedule is not None),
                (managed[0] if managed else "", bool(managed)),
                ("--collect", bool(opts.collect)),
                ("--export", bool(opts.export)),
            )
            if given
        ]
        if len(modes) > 1:
            raise ui.UserError(f"{' and '.join(modes)} cannot be combined")
        if (opts.serve or managed) and args:
            raise ui.UserError(f"{modes[0]} takes no query")
        if opts.timezone and opts.schedule is None:
            raise ui.UserError("--timezone goes with --schedule")
        if opts.schedule is not None and (opts.start or opts.end):
            raise ui.UserError(
                "--start/--end pin tracks of today's library: not possible with --schedule"
            )
        if opts.schedule is not None and (opts.print_set or opts.no_wait):
            raise ui.UserError("--schedule writes the playlist at each run: no --print, --no-wait")
        if opts.collect and (args or opts.no_wait):
            raise ui.UserError("--collect takes a workflow id and no query or --no-wait")
        if opts.export and (opts.print_set or opts.no_wait):
            raise ui.UserError("--export writes the tracks and stops: no --print or --no-wait")
        if opts.no_wait and opts.print_set:
            raise ui.UserError("--no-wait returns before there is a set to --print")
        return managed

    # --- export --------------------------------------------------------------------------

    def _export(self, lib: Library, args: list[str], opts: DJSetOptions) -> Export:
        from djcurator_core.files.export import export_items

        items = list(lib.items(args))
        shown = " ".join(args) or "(whole library)"
        if not items:
            raise ui.UserError(f"no tracks match the query {shown}")
        keep = self._keep_incomplete(opts)
        export = export_items(items, keep_incomplete=keep)
        for warning in export.warnings:
            self._log.warning("{}", warning)
        if export.skipped:
            self._log.info(
                "left out {} of {} tracks without BPM, key or file{}",
                len(export.skipped),
                len(items),
                "" if self._verbose() else " (-v lists them)",
            )
            for skipped in export.skipped:
                self._log.debug("left out {}", skipped)
        if export.incomplete:
            self._log.info(
                "{} tracks without BPM or key kept with neutral scores", export.incomplete
            )
        if not export.tracks:
            raise ui.UserError(
                f"none of the {len(items)} tracks matching {shown} has a file, BPM and key "
                "(-v lists them; --keep-incomplete keeps tracks without BPM or key)"
            )
        return export

    def _write_export(self, destination: str, export: Export) -> None:
        from djcurator_core.core.models import dump_tracks
        from djcurator_core.files.playlist import write_atomically

        text = dump_tracks(export.tracks)
        if destination == "-":
            sys.stdout.write(text)
            return
        _user_errors(write_atomically, Path(destination).expanduser(), text)
        ui.print_(f"wrote {len(export.tracks)} tracks to {destination}")

    # --- options -------------------------------------------------------------------------

    def _set_options(self, lib: Library, opts: DJSetOptions, export: Export | None) -> SetOptions:
        from pydantic import ValidationError

        from djcurator_core.core.planning import SetOptions
        from djcurator_core.core.scoring import ScoringConfig
        from djcurator_core.errors import validation_error_line

        values: dict[str, Any] = {}
        configured = self.config["set"].get(dict) or {}
        for option in SET_DEFAULTS:
            given = getattr(opts, option)
            value = given if given is not None else configured.get(option)
            if value is not None:
                values[option] = value
        # --count and --duration are alternatives: either on the command line replaces a
        # configured value of the other, instead of clashing with it.
        for given, other in (("count", "duration"), ("duration", "count")):
            if getattr(opts, given) is not None and getattr(opts, other) is None:
                values.pop(other, None)
        if isinstance(values.get("duration"), str):
            values["duration"] = _duration(values["duration"])
        ids = {track.id for track in export.tracks} if export else set()
        for which in ("start", "end"):
            query = getattr(opts, which)
            if query:
                values[which] = self._pinned_track(lib, which, query, ids)
        if values.get("start") is not None and values.get("start") == values.get("end"):
            item = lib.get_item(int(values["start"]))
            raise ui.UserError(
                f"--start {opts.start!r} and --end {opts.end!r} match the same track "
                f"({item.artist} - {item.title}): a set opens and closes with different tracks"
            )
        try:
            scoring = ScoringConfig.model_validate(self.config["scoring"].get(dict) or {})
        except ValidationError as exc:
            line = validation_error_line(exc, default_field="weights")
            raise ui.UserError(f"djset.scoring: {line}") from None
        try:
            return SetOptions(**values, scoring=scoring)
        except ValidationError as exc:
            line = validation_error_line(exc, default_field="options")
            raise ui.UserError(f"set options: {line}") from None

    @staticmethod
    def _pinned_track(lib: Library, which: str, query: str, ids: set[str]) -> str:
        matches = [item for item in lib.items(query) if str(item.id) in ids]
        if len(matches) == 1:
            return str(matches[0].id)
        if not matches:
            raise ui.UserError(f"--{which} {query!r} matches none of the set's tracks")
        shown = ", ".join(f"{item.artist} - {item.title}" for item in matches[:3])
        raise ui.UserError(
            f"--{which} {query!r} matches {len(matches)} of the set's tracks ({shown}"
            f"{', ...' if len(matches) > 3 else ''}); it must match one"
        )

    def _playlist_path(self, opts: DJSetOptions, name: str) -> Path:
        from djcurator_core.files.playlist import name_from_query, suffix_for

        folder = _pick(opts.playlist_dir, self.config["playlist_dir"].as_str())
        output_format = self._output_format(opts)
        suffix = _user_errors(suffix_for, output_format)
        return Path(os.path.expanduser(folder)).absolute() / f"{name_from_query([name])}{suffix}"

    def _output_format(self, opts: DJSetOptions) -> str:
        return _pick(opts.format, self.config["format"].as_str())

    def _forward_slash(self, opts: DJSetOptions) -> bool:
        return _pick(opts.forward_slash, self.config["forward_slash"].get(bool))

    def _keep_incomplete(self, opts: DJSetOptions) -> bool:
        return _pick(opts.keep_incomplete, self.config["keep_incomplete"].get(bool))

    def _relative_to(self, lib: Library, opts: DJSetOptions, playlist: Path) -> str | None:
        setting = _pick(opts.relative_to, self.config["relative_to"].get())
        if not setting:
            return None
        if setting == "playlist":
            return str(playlist.parent)
        if setting == "library":
            return os.fsdecode(lib.directory)
        return os.path.expanduser(str(setting))

    def _verbose(self) -> bool:
        return self._log.getEffectiveLevel() <= logging.DEBUG

    # --- Temporal ------------------------------------------------------------------------

    def _connection(self, opts: DJSetOptions):
        """Connection settings, or None when no server address is configured anywhere
        (djset.temporal.address, --address, TEMPORAL_ADDRESS, a temporal.toml profile):
        then the local service or an embedded server is used. Other Temporal settings
        (API key, namespace, TLS) without an address are an error, not silently dropped."""
        from djcurator_core.pipeline.client import ClientError, ConnectionSettings

        temporal = self.config["temporal"]
        settings = ConnectionSettings(
            address=opts.address or temporal["address"].as_str() or None,
            namespace=temporal["namespace"].as_str() or None,
            api_key=temporal["api_key"].as_str() or None,
            tls=temporal["tls"].get(),
            profile=temporal["profile"].as_str() or None,
        )
        try:
            configured = settings.connect_config(defaults=False)
        except ClientError as exc:
            raise ui.UserError(str(exc)) from None
        if configured.get("target_host"):
            return settings
        if configured:
            names = ", ".join(sorted(configured))
            raise ui.UserError(
                f"Temporal settings ({names}) but no server address: set "
                "djset.temporal.address or TEMPORAL_ADDRESS (the local service and the "
                "embedded server take no such settings)"
            )
        return None

    def _task_queue(self, opts: DJSetOptions) -> str:
        return opts.task_queue or self.config["temporal"]["task_queue"].as_str()

    def _run(
        self, opts: DJSetOptions, name: str, export: Export, options: SetOptions
    ) -> tuple[SetResult | None, str]:
        from djcurator_core.pipeline.workflows import SetRequest

        request = SetRequest(name=name, tracks=export.tracks, options=options)
        settings, task_queue = self._server_or_service(opts, announce=True)
        if settings is None and opts.no_wait:
            raise ui.UserError(
                "--no-wait needs a configured Temporal server (djset.temporal.address or "
                "TEMPORAL_ADDRESS) or a running `beet djset --serve`: the embedded server "
                "stops when beet exits"
            )
        return asyncio.run(self._submit(settings, request, task_queue, opts.no_wait))

    async def _submit(self, settings, request, task_queue: str, no_wait: bool):
        from djcurator_core.pipeline import client as temporal
        from djcurator_core.pipeline.worker import embedded_runtime

        wait = self.config["temporal"]["worker_wait"].as_number()

        async def submit(connected) -> tuple[SetResult | None, str]:
            handle = await temporal.start_set(
                connected, request, task_queue=task_queue, worker_wait=wait
            )
            self._log.info("started workflow {} with {} tracks", handle.id, len(request.tracks))
            if no_wait:
                self._log.info(
                    "write its playlist later with: beet djset --collect {} -n {}",
                    handle.id,
                    shlex.quote(request.name),
                )
                return None, handle.id
            try:
                result = await temporal.wait_for_result(handle, self._show_progress)
            except asyncio.CancelledError:  # Ctrl-C
                if settings is not None:
                    self._log.warning(
                        "interrupted: workflow {0} goes on on the server; "
                        "`beet djset --collect {0}` writes its playlist later",
                        handle.id,
                    )
                raise
            return result, handle.id

        if settings is None:
            self._log.info("no Temporal server configured: starting an embedded one")
            async with embedded_runtime(task_queue=task_queue) as connected:
                return await submit(connected)
        return await submit(await temporal.connect(settings))

    def _show_progress(self, progress) -> None:
        self._log.info("{}", progress.line())

    def _collect(self, opts: DJSetOptions) -> tuple[tuple[str, list[str] | None], SetResult, str]:
        """((name, query), result, workflow id) of a finished run; the name is -n, else
        the one the run was started with (its request), the query that of a library run."""
        from djcurator_core.pipeline import client as temporal

        settings, _ = self._server_or_service(opts)
        if settings is None:
            raise ui.UserError(
                "--collect needs a configured Temporal server (djset.temporal.address or "
                "TEMPORAL_ADDRESS) or a running `beet djset --serve`"
            )

        async def fetch():
            connected = await temporal.connect(settings)
            result = await temporal.fetch_result(connected, opts.collect)
            return result, await temporal.fetch_request(connected, opts.collect)

        result, request = asyncio.run(fetch())
        name = opts.name or (request.name if request else opts.collect)
        query = request.library.query if request and request.library else None
        return (name, query), result, opts.collect

    # --- schedules and the local service -------------------------------------------------

    _SCHEDULE_ACTIONS = ("show", "pause", "unpause", "trigger", "delete")

    def _schedule_action(self, opts: DJSetOptions) -> tuple[str, str | None] | None:
        """(option, NAME) of the schedule management option given, if any."""
        given = [
            (f"--schedule-{action}", getattr(opts, f"schedule_{action}"))
            for action in self._SCHEDULE_ACTIONS
            if getattr(opts, f"schedule_{action}")
        ]
        if opts.schedules:
            given.insert(0, ("--schedules", None))
        if len(given) > 1:
            raise ui.UserError(f"{' and '.join(o for o, _ in given)} cannot be combined")
        return given[0] if given else None

    def _state_dir(self) -> Path:
        from beets import config

        configured = self.config["serve"]["state_dir"].as_str()
        if configured:
            return Path(os.path.expanduser(configured)).absolute()
        return Path(config.config_dir()) / "djset"

    def _server_or_service(self, opts: DJSetOptions, announce: bool = False):
        """(connection settings, task queue): the configured server, else the running
        local service (`--serve`), else (None, queue): nothing runs to talk to."""
        from djcurator_core.pipeline.local_service import running_service

        settings = self._connection(opts)
        if settings is not None:
            return settings, self._task_queue(opts)
        service = running_service(self._state_dir())
        if service is None:
            return None, self._task_queue(opts)
        if announce:  # a one-off run: say where it goes (schedules always live there)
            self._log.info("using the local service ({})", service.describe())
        return service.connection_settings(), service.task_queue

    def _schedule_server(self, opts: DJSetOptions):
        """(connection settings, task queue) of the server that keeps the schedules: the
        configured one, else the running local service."""
        settings, task_queue = self._server_or_service(opts)
        if settings is None:
            raise ui.UserError(
                "schedules need a Temporal server that keeps running: start the local "
                "service with `beet djset --serve` (and keep it running), or configure "
                "djset.temporal.address or TEMPORAL_ADDRESS"
            )
        return settings, task_queue

    def _create_schedule(self, lib: Library, opts: DJSetOptions, args: list[str]) -> None:
        from datetime import timedelta

        from djcurator_core.files.playlist import check_writable, name_from_query
        from djcurator_core.pipeline import client as temporal
        from djcurator_core.pipeline import schedules
        from djcurator_core.pipeline.library_activities import LibrarySource, PlaylistTarget
        from djcurator_core.pipeline.workflows import SetRequest

        name = opts.name or name_from_query(args)
        keep = self._keep_incomplete(opts)
        options = self._set_options(lib, opts, None)
        target = self._playlist_path(opts, name)
        _user_errors(check_writable, target.parent)
        output_format = self._output_format(opts)
        request = SetRequest(
            name=name,
            library=LibrarySource(
                db=os.path.abspath(os.fsdecode(lib.path)),
                directory=os.fsdecode(lib.directory),
                query=list(args),
                keep_incomplete=keep,
            ),
            options=options,
            playlist=PlaylistTarget(
                path=str(target),
                format=output_format,
                relative_to=self._relative_to(lib, opts, target),
                forward_slash=self._forward_slash(opts),
            ),
        )
        timezone = (
            opts.timezone
            or self.config["schedule"]["timezone"].as_str()
            or schedules.local_timezone()
        )
        catchup = _duration(
            self.config["schedule"]["catchup_window"].as_str(), "djset.schedule.catchup_window"
        )
        settings, task_queue = self._schedule_server(opts)
        matching = len(lib.items(args))

        async def create():
            connected = await temporal.connect(settings)
            schedule_id, created = await schedules.upsert_schedule(
                connected,
                request,
                opts.schedule,
                timezone,
                task_queue=task_queue,
                catchup_window=timedelta(seconds=catchup),
            )
            summary = await schedules.describe_schedule(connected, schedule_id, recent=0)
            try:
                workers = await temporal.pollers(connected, task_queue)
            except Exception:  # only for the hint below
                workers = [""]
            return schedule_id, created, summary, workers

        schedule_id, created, summary, workers = asyncio.run(create())
        ui.print_(
            f"{'created' if created else 'updated'} schedule {schedule_id}: "
            f"{opts.schedule!r} ({timezone}), query {' '.join(args) or '(whole library)'} "
            f"({matching} tracks now), playlist {target}"
        )
        if summary.next_runs:
            ui.print_(f"next run: {schedules.local_time(summary.next_runs[0], timezone)}")
        if not workers:
            self._log.warning(
                "no worker polls task queue {} now: runs wait until one does "
                "(`beet djset --serve`)",
                task_queue,
            )

    def _manage_schedule(self, opts: DJSetOptions, option: str, name: str | None) -> int:
        from djcurator_core.pipeline import client as temporal
        from djcurator_core.pipeline import schedules

        settings, _ = self._schedule_server(opts)

        async def manage() -> int:
            connected = await temporal.connect(settings)
            if option == "--schedules":
                found = await schedules.list_schedules(connected)
                for summary in found:
                    ui.print_(summary.line())
                if not found:
                    ui.print_("no schedules")
                return 0
            schedule_id = await schedules.resolve(connected, name)
            if option == "--schedule-show":
                summary = await schedules.describe_schedule(connected, schedule_id)
                for line in summary.lines():
                    ui.print_(line)
                return 0
            if option == "--schedule-trigger":
                return await self._trigger(connected, schedule_id, opts.no_wait)
            operation = {
                "--schedule-pause": (schedules.pause_schedule, "paused"),
                "--schedule-unpause": (schedules.unpause_schedule, "resumed"),
                "--schedule-delete": (schedules.delete_schedule, "deleted"),
            }[option]
            await operation[0](connected, schedule_id)
            ui.print_(f"{operation[1]} schedule {schedule_id}")
            return 0

        return asyncio.run(manage())

    async def _trigger(self, connected, schedule_id: str, no_wait: bool) -> int:
        from djcurator_core.pipeline import client as temporal
        from djcurator_core.pipeline import schedules
        from djcurator_core.pipeline.workflows import DJSetWorkflow

        if not no_wait:  # without a worker the run would wait, and so would this command
            summary = await schedules.describe_schedule(connected, schedule_id, recent=0)
            if summary.task_queue:
                wait = self.config["temporal"]["worker_wait"].as_number()
                await temporal.wait_for_worker(connected, summary.task_queue, wait)
        triggered = await schedules.trigger_schedule(connected, schedule_id)
        if triggered.workflow_id is None:
            running = ", ".join(triggered.skipped_because_running) or "a run"
            raise ui.UserError(f"not started: {running} of {schedule_id} is still going")
        ui.print_(f"started {triggered.workflow_id}")
        if no_wait:
            return 0
        handle = connected.get_workflow_handle_for(
            DJSetWorkflow.run, triggered.workflow_id, run_id=triggered.run_id
        )
        seen = []

        def progress(update) -> None:
            seen.append(update)
            self._show_progress(update)

        result = await temporal.wait_for_result(handle, progress)  # ends with the last one
        written = next((p.playlist for p in reversed(seen) if p.playlist), None)
        ui.print_(f"wrote {written or 'the playlist'} ({result.summary.track_count} tracks)")
        return 0

    def _serve(self, opts: DJSetOptions) -> int:
        from djcurator_core.pipeline.local_service import ServiceConfig, run_service

        serve = self.config["serve"]
        ui_port = serve["ui_port"].get()
        config = ServiceConfig(
            state_dir=self._state_dir(),
            port=serve["port"].get(int),
            ui_port=None if ui_port in (None, "", False) else int(ui_port),
            task_queue=self._task_queue(opts),
            settings=self._connection(opts),
        )

        def say(text: str) -> None:
            ui.print_(text)
            sys.stdout.flush()

        return asyncio.run(run_service(config, say))

    # --- output --------------------------------------------------------------------------

    def _temporal_command(self, lib: Library, work) -> None:
        """Run `work` (which may return an exit status), with Temporal's ClientErrors as
        one-line user errors, and leave the process deliberately afterwards."""
        from djcurator_core.pipeline.client import ClientError

        code = 0
        try:
            try:
                code = work() or 0
            except ClientError as exc:
                raise ui.UserError(str(exc)) from None
        except ui.UserError as exc:
            if not _exit_after_temporal():
                raise
            ui.log.error("error: {}", exc.args[0] if exc.args else exc)
            code = 1
        except KeyboardInterrupt:
            if not _exit_after_temporal():
                raise
            code = 130
        if _exit_after_temporal():
            plugins.send("cli_exit", lib=lib)
            lib._close()
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def _output(
        self,
        lib: Library,
        opts: DJSetOptions,
        origin: tuple[str, list[str] | None],
        result: SetResult | None,
        workflow_id: str,
    ) -> None:
        from djcurator_core.core.report import render_text
        from djcurator_core.files.playlist import render_json, render_playlist, write_atomically

        if result is None:  # --no-wait
            ui.print_(workflow_id)
            return
        name, query = origin
        output_format = self._output_format(opts)
        if opts.print_set:
            if output_format == "json":
                sys.stdout.write(render_json(result, name, query=query, workflow_id=workflow_id))
            else:
                sys.stdout.write(render_text(result))
            return
        target = self._playlist_path(opts, name)
        text = _user_errors(
            render_playlist,
            result,
            name,
            output_format,
            query=query,
            workflow_id=workflow_id,
            relative_to=self._relative_to(lib, opts, target),
            forward_slash=self._forward_slash(opts),
        )
        _user_errors(write_atomically, target, text)
        ui.print_(f"wrote {target} ({result.summary.track_count} tracks)")


def _pick(given: Any, configured: Any) -> Any:
    return configured if given is None else given


def _duration(text: str, option: str = "--duration") -> float:
    """Seconds of a duration (cli.parse_duration); bad text is a user error naming `option`."""
    from argparse import ArgumentTypeError

    from djcurator_core.cli import parse_duration

    try:
        return parse_duration(str(text))
    except ArgumentTypeError as exc:
        raise ui.UserError(f"{option}: {exc}") from None


def _user_errors(function, *args, **kwargs):
    """Call `function`; a PlaylistError becomes beets' one-line user error."""
    from djcurator_core.files.playlist import PlaylistError

    try:
        return function(*args, **kwargs)
    except PlaylistError as exc:
        raise ui.UserError(str(exc)) from None


def _exit_after_temporal() -> bool:
    if EXIT_AFTER_TEMPORAL is not None:
        return EXIT_AFTER_TEMPORAL
    main = sys.modules.get("__main__")
    spec_name = getattr(getattr(main, "__spec__", None), "name", "") or ""
    script = os.path.basename(getattr(main, "__file__", "") or "")
    return spec_name == "beets.__main__" or script in ("beet", "beet.exe", "beet-script.py")
