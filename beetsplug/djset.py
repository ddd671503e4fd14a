"""`beet djset QUERY`: order the matching tracks for harmonic mixing, write an M3U8 playlist.

A thin command layer over djcurator_core: export the items (export.py), run
DJSetWorkflow on the configured Temporal server or on an embedded one (client.py,
runtime.py), render and write the playlist (playlist.py). Problems surface as
beets' one-line `error: ...` with exit status 1. The library and the audio files are
only read, never written.
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

    from djcurator_core.export import Export
    from djcurator_core.justify import SetResult
    from djcurator_core.planning import SetOptions

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
        cmd.func = self.command
        return [cmd]

    def command(self, lib: Library, opts: DJSetOptions, args: list[str]) -> None:
        from djcurator_core.playlist import check_writable, name_from_query

        self._check_option_combinations(opts, args)
        if opts.collect:
            self._finish(lib, opts, None, lambda: self._collect(opts))
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
        self._finish(lib, opts, (name, args), lambda: self._run(opts, name, export, options))

    def _check_option_combinations(self, opts: DJSetOptions, args: list[str]) -> None:
        if opts.collect and (args or opts.export or opts.no_wait):
            raise ui.UserError("--collect takes a workflow id and no query, --export or --no-wait")
        if opts.export and (opts.print_set or opts.no_wait):
            raise ui.UserError("--export writes the tracks and stops: no --print or --no-wait")
        if opts.no_wait and opts.print_set:
            raise ui.UserError("--no-wait returns before there is a set to --print")

    # --- export --------------------------------------------------------------------------

    def _export(self, lib: Library, args: list[str], opts: DJSetOptions) -> Export:
        from djcurator_core.export import export_items

        items = list(lib.items(args))
        shown = " ".join(args) or "(whole library)"
        if not items:
            raise ui.UserError(f"no tracks match the query {shown}")
        keep = _pick(opts.keep_incomplete, self.config["keep_incomplete"].get(bool))
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
        from djcurator_core.models import dump_tracks
        from djcurator_core.playlist import write_atomically

        text = dump_tracks(export.tracks)
        if destination == "-":
            sys.stdout.write(text)
            return
        _user_errors(write_atomically, Path(destination).expanduser(), text)
        ui.print_(f"wrote {len(export.tracks)} tracks to {destination}")

    # --- options -------------------------------------------------------------------------

    def _set_options(self, lib: Library, opts: DJSetOptions, export: Export) -> SetOptions:
        from pydantic import ValidationError

        from djcurator_core.planning import SetOptions
        from djcurator_core.scoring import ScoringConfig

        values: dict[str, Any] = {}
        configured = self.config["set"].get(dict) or {}
        for option in SET_DEFAULTS:
            given = getattr(opts, option)
            value = given if given is not None else configured.get(option)
            if value is not None:
                values[option] = value
        if isinstance(values.get("duration"), str):
            values["duration"] = _duration(values["duration"])
        ids = {track.id for track in export.tracks}
        for which in ("start", "end"):
            query = getattr(opts, which)
            if query:
                values[which] = self._pinned_track(lib, which, query, ids)
        try:
            scoring = ScoringConfig.model_validate(self.config["scoring"].get(dict) or {})
        except ValidationError as exc:
            raise ui.UserError(_first_error("djset.scoring.{}", exc)) from None
        try:
            return SetOptions(**values, scoring=scoring)
        except ValidationError as exc:
            raise ui.UserError(_first_error("djset option {}", exc)) from None

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
        from djcurator_core.playlist import name_from_query, suffix_for

        folder = _pick(opts.playlist_dir, self.config["playlist_dir"].as_str())
        output_format = _pick(opts.format, self.config["format"].as_str())
        suffix = _user_errors(suffix_for, output_format)
        return Path(os.path.expanduser(folder)).absolute() / f"{name_from_query([name])}{suffix}"

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
        """Connection settings, or None when nothing is configured (embedded server)."""
        from temporalio.envconfig import ClientConfig

        from djcurator_core.client import ConnectionSettings

        temporal = self.config["temporal"]
        profile = temporal["profile"].as_str() or None
        address = opts.address or temporal["address"].as_str()
        if not address:
            try:
                configured = ClientConfig.load_client_connect_config(profile=profile)
            except Exception as exc:  # the loader raises plain errors for bad files
                raise ui.UserError(f"Temporal configuration: {exc}") from None
            if not configured.get("target_host"):
                return None
        return ConnectionSettings(
            address=address or None,
            namespace=temporal["namespace"].as_str() or None,
            api_key=temporal["api_key"].as_str() or None,
            tls=temporal["tls"].get(),
            profile=profile,
        )

    def _task_queue(self, opts: DJSetOptions) -> str:
        return opts.task_queue or self.config["temporal"]["task_queue"].as_str()

    def _run(
        self, opts: DJSetOptions, name: str, export: Export, options: SetOptions
    ) -> tuple[SetResult | None, str]:
        from djcurator_core.workflows import SetRequest

        request = SetRequest(name=name, tracks=export.tracks, options=options)
        settings = self._connection(opts)
        if settings is None and opts.no_wait:
            raise ui.UserError(
                "--no-wait needs a configured Temporal server (djset.temporal.address or "
                "TEMPORAL_ADDRESS): the embedded server stops when beet exits"
            )
        return asyncio.run(self._submit(settings, request, self._task_queue(opts), opts.no_wait))

    async def _submit(self, settings, request, task_queue: str, no_wait: bool):
        from djcurator_core import client as temporal
        from djcurator_core.runtime import embedded_runtime

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

    def _collect(self, opts: DJSetOptions) -> tuple[SetResult, str]:
        from djcurator_core import client as temporal

        settings = self._connection(opts)
        if settings is None:
            raise ui.UserError(
                "--collect needs a configured Temporal server (djset.temporal.address or "
                "TEMPORAL_ADDRESS)"
            )

        async def fetch() -> SetResult:
            connected = await temporal.connect(settings)
            return await temporal.fetch_result(connected, opts.collect)

        return asyncio.run(fetch()), opts.collect

    # --- output --------------------------------------------------------------------------

    def _finish(self, lib: Library, opts: DJSetOptions, origin, temporal_work) -> None:
        """Run the Temporal part, write the output, and leave the process deliberately."""
        from djcurator_core.client import ClientError

        code = 0
        try:
            try:
                result, workflow_id = temporal_work()
            except ClientError as exc:
                raise ui.UserError(str(exc)) from None
            self._output(lib, opts, origin, result, workflow_id)
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
        origin: tuple[str, list[str]] | None,
        result: SetResult | None,
        workflow_id: str,
    ) -> None:
        from djcurator_core.playlist import render_json, render_m3u8, write_atomically
        from djcurator_core.report import render_text

        if result is None:  # --no-wait
            ui.print_(workflow_id)
            return
        name, query = origin if origin else (opts.name or _name_of(workflow_id), None)
        output_format = _pick(opts.format, self.config["format"].as_str())
        if opts.print_set:
            if output_format == "json":
                sys.stdout.write(render_json(result, name, query=query, workflow_id=workflow_id))
            else:
                sys.stdout.write(render_text(result))
            return
        target = self._playlist_path(opts, name)
        if output_format == "json":
            text = render_json(result, name, query=query, workflow_id=workflow_id)
        else:
            text = _user_errors(
                render_m3u8,
                result,
                name,
                query=query,
                workflow_id=workflow_id,
                relative_to=self._relative_to(lib, opts, target),
                forward_slash=_pick(opts.forward_slash, self.config["forward_slash"].get(bool)),
            )
        _user_errors(write_atomically, target, text)
        ui.print_(f"wrote {target} ({result.summary.track_count} tracks)")


def _first_error(field_name: str, exc) -> str:
    """One line for a pydantic ValidationError: "<field_name with {} = field>: message"."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{field_name.format(where)}: {first['msg'].removeprefix('Value error, ')}"


def _pick(given: Any, configured: Any) -> Any:
    return configured if given is None else given


def _duration(text: str) -> float:
    from argparse import ArgumentTypeError

    from djcurator_core.cli import parse_duration

    try:
        return parse_duration(str(text))
    except ArgumentTypeError as exc:
        raise ui.UserError(f"--duration: {exc}") from None


def _name_of(workflow_id: str) -> str:
    return workflow_id.removeprefix("djset-") or workflow_id


def _user_errors(function, *args, **kwargs):
    """Call `function`; a PlaylistError becomes beets' one-line user error."""
    from djcurator_core.playlist import PlaylistError

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
