"""`beet djset QUERY` and `--collect`: the command's options, and one set made now.

`build_command` makes the `djset` subcommand (its options; the set-option flags come from
the core's one flag table, shared with the CLI). `SetCommand.run` dispatches: the schedule
and service modes go to schedule_commands.py, `--collect` writes a finished run's
playlist, anything else exports the matching items (files/export.py), resolves the set's
options (command line over `djset.set` and `djset.scoring`), runs DJSetWorkflow
(pipeline/sets/set_runs.py) and hands the result to set_output.py. The library and the
audio files are only read, never written.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from typing import TYPE_CHECKING

from beets import ui

from beetsplug.djset.analyze_commands import report_key_confidence
from djcurator_core.core.options.set_option_flags import CONFIGURABLE, SET_OPTION_FLAGS

if TYPE_CHECKING:
    from optparse import Values

    from beets.library import Library

    from beetsplug.djset import DJSetPlugin
    from djcurator_core.core.options.set_options import SetOptions
    from djcurator_core.core.report.justify import SetResult
    from djcurator_core.files.export import Export

USAGE = (
    "%prog [options] QUERY\n       %prog --collect WORKFLOW_ID [options]\n"
    "       %prog --schedule CRON [--timezone TZ] [-n NAME] [options] QUERY\n"
    "       %prog --schedules | --schedule-show|-pause|-unpause|-trigger|-delete NAME\n"
    "       %prog --serve\n"
    "QUERY is a beets query; --start and --end take queries that match one track."
)


def build_command(run) -> ui.Subcommand:
    """The `djset` subcommand; `run(lib, opts, args)` runs it."""
    from beetsplug.djset.schedule_commands import add_schedule_options

    cmd = ui.Subcommand("djset", help="order matching tracks into a DJ set, write a playlist")
    cmd.parser.usage = USAGE
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
        help="playlist formats, comma-separated: m3u8 (default), json, rekordbox, nml, "
        "mixxx (into Mixxx's database)",
    )
    add(
        "--mixxx-autodj",
        choices=["off", "append", "replace"],
        metavar="off|append|replace",
        help="with --format mixxx: also append the set to Mixxx's Auto DJ queue, or "
        "replace the queue with it (default: djset.mixxx.autodj, off)",
    )
    add(
        "--mixxx-crate",
        metavar="NAME",
        help="with --format mixxx: also put the set's tracks in this Mixxx crate",
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
    cmd.func = run
    return cmd


class SetCommand:
    """`beet djset` for the plugin: its config (`plugin.settings`), output
    (`plugin.output`) and the way it runs Temporal work (`plugin.temporal_command`)."""

    def __init__(self, plugin: DJSetPlugin) -> None:
        self.plugin = plugin
        self.config = plugin.config
        self.settings = plugin.settings
        self.output = plugin.output
        self._log = plugin._log

    def run(self, lib: Library, opts: Values, args: list[str]) -> None:
        from beetsplug.djset import user_errors
        from beetsplug.djset.schedule_commands import ScheduleCommands, check_combinations

        mode = check_combinations(opts, args)
        if opts.analyze and (mode is not None or opts.collect):
            raise ui.UserError(
                "--analyze goes with making a set now: a query, not "
                + ("--collect" if opts.collect else "--serve or the --schedule options")
            )
        if mode is not None:
            commands = ScheduleCommands(self.plugin)
            self.plugin.temporal_command(lib, lambda: commands.run(mode, lib, opts, args))
            return
        if opts.collect:
            self.plugin.temporal_command(lib, lambda: self._collect_and_write(lib, opts))
            return
        user_errors(self._make_set)(lib, opts, args)

    def _make_set(self, lib: Library, opts: Values, args: list[str]) -> None:
        if opts.analyze:  # analyse what is missing first, then the same steps
            self.plugin.temporal_command(lib, lambda: self._analyse_and_make_set(lib, opts, args))
            return
        prepared = self._prepare_set(lib, opts, args)
        if prepared is not None:
            self.plugin.temporal_command(
                lib, lambda: self._run_and_write(lib, opts, args, *prepared)
            )

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
            self.settings.memory_limit()  # a bad setting is refused before the export
        export = self._export(lib, args, opts)
        if opts.export:
            self.output.write_export(opts.export, export)
            return None
        return name, export, self.set_options(lib, opts, export)

    def _run_and_write(self, lib: Library, opts: Values, args: list[str], name, export, options):
        self.output.show_or_write(lib, opts, (name, args), *self._run(opts, name, export, options))

    def _analyse_and_make_set(self, lib: Library, opts: Values, args: list[str]) -> None:
        from beetsplug.djset.analyze_commands import analyse_items

        analyse_items(self.plugin, lib, lib.items(args), opts=opts)
        prepared = self._prepare_set(lib, opts, args)
        if prepared is not None:
            self._run_and_write(lib, opts, args, *prepared)

    # --- export --------------------------------------------------------------------------

    def _export(self, lib: Library, args: list[str], opts: Values) -> Export:
        from djcurator_core.files.beets_items import matching_items
        from djcurator_core.files.export import check_usable, export_items

        items = matching_items(lib, args)
        shown = " ".join(args) or "(whole library)"
        export = export_items(items, keep_incomplete=self.settings.keep_incomplete(opts))
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

    def _verbose(self) -> bool:
        return self._log.getEffectiveLevel() <= logging.DEBUG

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

    # --- Temporal ------------------------------------------------------------------------

    def _run(
        self, opts: Values, name: str, export: Export, options: SetOptions
    ) -> tuple[SetResult | None, str]:
        from djcurator_core.pipeline.contracts import SetRequest
        from djcurator_core.pipeline.sets.set_runs import run_set

        request = SetRequest(name=name, tracks=export.tracks, options=options)
        server = self.settings.server(opts, announce=True)
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
                    worker_wait=self.settings.worker_wait(),
                    later=later,
                    wait=not opts.no_wait,
                    on_started=on_started,
                    on_progress=self.output.show_progress,
                    memory_limit=self.settings.memory_limit(),
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
        settings = require_lasting_server(self.settings.server(opts), "--collect")

        async def fetch():
            connected = await temporal.connect(settings)
            result = await temporal.fetch_result(connected, opts.collect)
            return result, await temporal.fetch_request(connected, opts.collect)

        result, request = asyncio.run(fetch())
        name = opts.name or (request.name if request else opts.collect)
        query = request.library.query if request and request.library else None
        self.output.show_or_write(lib, opts, (name, query), result, opts.collect)


def _braces(text: str) -> str:
    """`text` kept as it is by str.format."""
    return text.replace("{", "{{").replace("}", "}}")
