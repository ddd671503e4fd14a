"""`beet djset --schedule*` and `--serve`: nightly sets and the local service.

Schedules live on a Temporal server that keeps running (the configured one, or the local
service that `--serve` runs: dev server, Web UI and a worker). Each scheduled run exports
the query on a worker when it runs and writes the playlist there
(pipeline/schedules.py). This module only turns options into those calls and their
results into lines; config.py owns the settings, run_command.py the one-off `beet djset
QUERY` run (and the set options both resolve alike), set_output.py the playlist settings
both share.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from optparse import OptionParser, Values
from typing import TYPE_CHECKING

from beets import ui

if TYPE_CHECKING:
    from beets.library import Library

    from beetsplug.djset import DJSetPlugin

SCHEDULE_ACTIONS = ("show", "pause", "unpause", "trigger", "delete")


def add_schedule_options(parser: OptionParser) -> None:
    add = parser.add_option
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
    add("--schedule-trigger", metavar="NAME", help="run a schedule now (waits unless --no-wait)")
    add("--schedule-delete", metavar="NAME", help="delete a schedule")
    add(
        "--serve",
        action="store_true",
        help="run the local service until Ctrl-C/SIGTERM: Temporal server, Web UI, worker",
    )


def _managed(opts: Values) -> tuple[str, str | None] | None:
    """(option, NAME) of the schedule management option given, if any."""
    given = [
        (f"--schedule-{action}", getattr(opts, f"schedule_{action}"))
        for action in SCHEDULE_ACTIONS
        if getattr(opts, f"schedule_{action}")
    ]
    if opts.schedules:
        given.insert(0, ("--schedules", None))
    if len(given) > 1:
        raise ui.UserError(f"{' and '.join(o for o, _ in given)} cannot be combined")
    return given[0] if given else None


def check_combinations(opts: Values, args: list[str]) -> tuple[str, ...] | None:
    """Refuse options that do not go together, before any work. Returns the mode this
    module handles ("serve",), ("create",) or ("manage", option, NAME), else None."""
    managed = _managed(opts)
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
    if opts.serve:
        return ("serve",)
    if opts.schedule is not None:
        return ("create",)
    if managed:
        return ("manage", *managed)
    return None


class ScheduleCommands:
    def __init__(self, plugin: DJSetPlugin) -> None:
        self.plugin = plugin
        self.config = plugin.config
        self.log = plugin._log

    def run(self, mode: tuple, lib: Library, opts: Values, args: list[str]) -> int:
        if mode[0] == "serve":
            return self.serve(lib, opts)
        if mode[0] == "create":
            self.create(lib, opts, args)
            return 0
        return self.manage(opts, mode[1], mode[2])

    @staticmethod
    def _fresh_sets(value) -> int:
        """`djset.schedule.fresh_sets`: a whole number >= 0 (0: runs may repeat tracks)."""
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ui.UserError(
                f"djset.schedule.fresh_sets: {value!r} is not a whole number >= 0 "
                "(the last sets whose tracks a scheduled run holds back; 0 = off)"
            )
        return value

    def _lasting_server(self, opts: Values):
        from djcurator_core.pipeline.sets.set_runs import require_lasting_server

        server = self.plugin.settings.server(opts)
        return require_lasting_server(server, "schedules"), server.task_queue

    def create(self, lib: Library, opts: Values, args: list[str]) -> None:
        from beetsplug.djset.run_command import SetCommand
        from djcurator_core.core.options.set_options import parse_duration
        from djcurator_core.files.dj_formats.playlist import name_from_query
        from djcurator_core.pipeline import schedules
        from djcurator_core.pipeline.contracts import (
            LibrarySource,
            PlaylistFile,
            PlaylistTarget,
            SetRequest,
        )
        from djcurator_core.pipeline.sets import client as temporal

        plugin = self.plugin
        name = opts.name or name_from_query(args)
        options = SetCommand(plugin).set_options(lib, opts, None)
        files = plugin.output.playlist_files(opts, name)
        target = files[0][1]
        plugin.output.check_target(lib, opts, target)
        request = SetRequest(
            name=name,
            library=LibrarySource(
                db=os.path.abspath(os.fsdecode(lib.path)),
                directory=os.fsdecode(lib.directory),
                query=list(args),
                keep_incomplete=plugin.settings.keep_incomplete(opts),
            ),
            options=options,
            playlist=PlaylistTarget.of_files(
                [PlaylistFile(path=str(path), format=fmt) for fmt, path in files],
                relative_to=plugin.output.relative_to(lib, opts, target, [fmt for fmt, _ in files]),
                forward_slash=plugin.output.forward_slash(opts),
                **plugin.output.mixxx_settings(opts),
            ),
        )
        schedule = self.config["schedule"]
        timezone = opts.timezone or schedule["timezone"].as_str() or schedules.local_timezone()
        catchup = parse_duration(
            schedule["catchup_window"].as_str(), "djset.schedule.catchup_window"
        )
        fresh_sets = self._fresh_sets(schedule["fresh_sets"].get())
        settings, task_queue = self._lasting_server(opts)
        if self.plugin.settings.server(opts).service is not None:
            self._check_service_may_write(lib, request)
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
                fresh_sets=fresh_sets,
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
            f"({matching} tracks now), playlist {', '.join(str(path) for _, path in files)}"
        )
        if summary.next_runs:
            ui.print_(f"next run: {schedules.local_time(summary.next_runs[0], timezone)}")
        if not workers:
            self.log.warning(
                "no worker polls task queue {} now: runs wait until one does "
                "(`beet djset --serve`)",
                task_queue,
            )

    def manage(self, opts: Values, option: str, name: str | None) -> int:
        from djcurator_core.pipeline import schedules
        from djcurator_core.pipeline.sets import client as temporal

        settings, _ = self._lasting_server(opts)

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
        from djcurator_core.pipeline import schedules
        from djcurator_core.pipeline.sets import client as temporal
        from djcurator_core.pipeline.sets.workflows import DJSetWorkflow

        task_queue = None
        if not no_wait:  # without a worker the run would wait, and so would this command
            summary = await schedules.describe_schedule(connected, schedule_id, recent=0)
            task_queue = summary.task_queue
            if task_queue:
                wait = self.plugin.settings.worker_wait()
                await temporal.wait_for_worker(connected, task_queue, wait)
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
        if task_queue:  # a listed worker may be a dead one: see that one takes the run
            await temporal.wait_for_pickup(
                connected,
                handle,
                task_queue,
                self.plugin.settings.worker_wait(),
                later=": it writes its playlist once a worker has run it",
            )
        seen = []

        def progress(update) -> None:
            seen.append(update)
            self.plugin.output.show_progress(update)

        result = await temporal.wait_for_result(handle, progress)  # ends with the last one
        written = next((p.playlist for p in reversed(seen) if p.playlist), None)
        ui.print_(f"wrote {written or 'the playlist'} ({result.summary.track_count} tracks)")
        return 0

    def _check_service_may_write(self, lib: Library, request) -> None:
        """Refuse now a schedule whose runs the local service's worker would refuse (its
        scope comes from this same beets configuration), naming the setting."""
        from temporalio.exceptions import ApplicationError

        from djcurator_core.files.dj_formats.formats import FORMATS

        scope = self.plugin.settings.worker_scope(lib)
        try:
            for file in request.playlist.files():
                if FORMATS[file.format].database:
                    scope.mixxx_database(file.path)
                else:
                    scope.playlist_path(file.path, FORMATS[file.format].suffix)
        except ApplicationError as exc:
            raise ui.UserError(f"runs of this schedule would fail: {exc.message}") from None

    def serve(self, lib: Library, opts: Values) -> int:
        from djcurator_core.pipeline.server.local_service import ServiceConfig, run_service

        serve = self.config["serve"]
        ui_port = serve["ui_port"].get()
        config = ServiceConfig(
            state_dir=self.plugin.settings.state_dir(),
            port=serve["port"].get(int),
            ui_port=None if ui_port in (None, "", False) else int(ui_port),
            task_queue=self.plugin.settings.task_queue(opts),
            settings=self.plugin.settings.connection_settings(opts).if_configured(),
            scope=self.plugin.settings.worker_scope(lib),
            memory_limit=self.plugin.settings.memory_limit(),
        )

        def say(text: str) -> None:
            ui.print_(text)
            sys.stdout.flush()

        return asyncio.run(run_service(config, say))
