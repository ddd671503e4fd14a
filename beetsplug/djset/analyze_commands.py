"""`beet djanalyze`, `beet djset --analyze` and analysis on import (docs/analyze.md).

Picks the items that lack BPM, key or energy (all of them with --force), runs
DJAnalyzeWorkflow on them where the plugin's runs go (an embedded Temporal server unless
one is configured or the local service runs), prints progress (done/total, rate, ETA),
one warning line per file that could not be analysed, and a summary. The workflow stores
each batch's results in the library as it goes.
"""

from __future__ import annotations

import asyncio
import os
from optparse import Values
from typing import TYPE_CHECKING, Any

from beets import ui

if TYPE_CHECKING:
    from beets.library import Library

    from djcurator_core.pipeline.contracts import AnalysedTrack, AnalysisSummary

ANALYZE_DEFAULTS = {
    "write": False,  # also write the values into the files' tags (as -w)
    "auto": False,  # analyse the tracks of an import when `beet import` finishes
    "batch_size": 16,  # files per Temporal activity
    "parallel_batches": 2,  # activities in flight per run
}


def analyze_command(plugin: Any) -> ui.Subcommand:
    """The `djanalyze` subcommand."""
    cmd = ui.Subcommand(
        "djanalyze", help="estimate BPM, key and energy from the audio of matching tracks"
    )
    cmd.parser.usage = "%prog [-f|--force] [-w|--write] [QUERY]"
    add = cmd.parser.add_option
    add(
        "-f",
        "--force",
        action="store_true",
        default=False,
        help="analyse every matching track and replace its BPM, key and energy",
    )
    add(
        "-w",
        "--write",
        action="store_true",
        default=None,
        help="also write the values into the files' tags (djset.analyze.write)",
    )
    add("-W", "--nowrite", action="store_false", dest="write", help="write no file tags")
    add("--address", metavar="HOST:PORT", help="Temporal server (default: config)")
    add("--task-queue", metavar="QUEUE", help="Temporal task queue of the workers")

    def run(lib: Library, opts: Values, args: list[str]) -> None:
        def work() -> None:
            analyse_items(plugin, lib, lib.items(args), opts.force, opts.write, opts)

        plugin.temporal_command(lib, work)

    cmd.func = run
    return cmd


def analyse_items(
    plugin: Any,
    lib: Library,
    items,
    force: bool = False,
    write: bool | None = None,
    opts: Values | None = None,
) -> AnalysisSummary | None:
    """Analyse the items that need it and store the results; None when none needs it."""
    from djcurator_core.files.export import item_genre
    from djcurator_core.pipeline.analysis.analysis_activities import fields_to_fill
    from djcurator_core.pipeline.analysis.analysis_client import ProgressMeter, analyse_on
    from djcurator_core.pipeline.contracts import (
        LOW_KEY_CONFIDENCE,
        AnalysisItem,
        AnalysisRequest,
        LibrarySource,
    )

    config = plugin.config["analyze"]
    matched = 0
    todo = []
    for item in items:
        matched += 1
        if force or fields_to_fill(item, force=False):
            todo.append(
                AnalysisItem(
                    item_id=item.id, path=os.fsdecode(item.path), genre=item_genre(item) or None
                )
            )
    if not todo:
        ui.print_(
            f"nothing to analyse: the {matched} matching tracks have BPM, key, energy and "
            "structure (--force analyses them again)"
        )
        return None
    request = AnalysisRequest(
        items=todo,
        library=LibrarySource(
            db=os.path.abspath(os.fsdecode(lib.path)), directory=os.fsdecode(lib.directory)
        ),
        force=force,
        write_tags=config["write"].get(bool) if write is None else write,
        batch_size=config["batch_size"].get(int),
        parallel_batches=config["parallel_batches"].get(int),
    )
    opts = opts or Values({"address": None, "task_queue": None})
    server = plugin.settings.server(opts, announce=True)
    if server.settings is None:
        plugin._log.info("no Temporal server configured: starting an embedded one")
    meter = ProgressMeter()
    summary = asyncio.run(
        analyse_on(
            server.settings,
            server.task_queue,
            request,
            on_progress=lambda progress: plugin._log.info("{}", meter.line(progress)),
            say=plugin._log.info,
        )
    )
    for line in summary.failures:
        plugin._log.warning("skipped {}", line)
    if summary.progress.failed > len(summary.failures):
        plugin._log.warning("... and {} more", summary.progress.failed - len(summary.failures))
    for line in summary.warnings:
        plugin._log.warning("{}", line)
    for track in summary.changes:
        ui.print_(change_line(track))
    if summary.uncertain_keys:
        ui.print_(
            f"{summary.uncertain_keys} keys are uncertain (confidence below "
            f"{LOW_KEY_CONFIDENCE}, stored in the field key_confidence; "
            f"`beet ls key_confidence:..{LOW_KEY_CONFIDENCE}` lists them)"
        )
    progress = summary.progress
    done = progress.done - progress.failed
    written = f", {progress.files_written} files tagged" if request.write_tags else ""
    ui.print_(
        f"analysed {done} of {len(todo)} tracks: {progress.stored} updated in the library"
        f"{written}, {progress.failed} skipped"
    )
    return summary


def change_line(track: AnalysedTrack) -> str:
    """One line for a track whose key or tempo changes inside it: what a DJ mixes in on
    and what they mix out of."""
    parts = []
    if track.key_start and track.key_end:
        parts.append(f"key {track.key_start} -> {track.key_end}")
    if track.bpm_start and track.bpm_end:
        parts.append(f"tempo {track.bpm_start:g} -> {track.bpm_end:g} BPM")
    return f"{track.path}: changes {', '.join(parts)} (start -> end)"


def report_key_confidence(log: Any, tracks: list) -> None:
    """For `beet djset`: how many of the set's keys are uncertain estimates (info), and
    with -v every estimated key with its confidence (debug). A key from the file's tags
    or typed in by the user has no confidence and is not listed."""
    from djcurator_core.pipeline.contracts import LOW_KEY_CONFIDENCE

    rated = [(t, t.extra["key_confidence"]) for t in tracks if "key_confidence" in t.extra]
    uncertain = [t for t, c in rated if c < LOW_KEY_CONFIDENCE]
    if uncertain:
        log.info(
            "{} of {} tracks have an uncertain estimated key (confidence below {}){}",
            len(uncertain),
            len(tracks),
            LOW_KEY_CONFIDENCE,
            "" if log.getEffectiveLevel() <= 10 else " (`beet -v djset ...` lists them)",
        )
    for track, confidence in rated:
        mark = "uncertain" if confidence < LOW_KEY_CONFIDENCE else "confident"
        log.debug(
            "key {} estimated with confidence {:.2f} ({}): {}",
            track.key,
            confidence,
            mark,
            track.path or track.title,
        )


class ImportAnalysis:
    """djset.analyze.auto: collect the items an import adds, analyse them when the import
    finishes (one run for the whole import, with every core), as `beet djanalyze`
    without --force would."""

    def __init__(self, plugin: Any) -> None:
        self._plugin = plugin
        self._ids: list[int] = []
        plugin.register_listener("item_imported", self._item_imported)
        plugin.register_listener("album_imported", self._album_imported)
        plugin.register_listener("import", self._import_finished)

    def _enabled(self) -> bool:
        return self._plugin.config["analyze"]["auto"].get(bool)

    def _item_imported(self, lib, item) -> None:
        if self._enabled():
            self._ids.append(item.id)

    def _album_imported(self, lib, album) -> None:
        if self._enabled():
            self._ids.extend(item.id for item in album.items())

    def _import_finished(self, lib, paths) -> None:
        from djcurator_core.errors import DJSetError
        from djcurator_core.pipeline.sets.client import ClientError

        ids, self._ids = self._ids, []
        if not ids or not self._enabled():
            return
        items = [item for item in (lib.get_item(i) for i in ids) if item is not None]
        try:
            analyse_items(self._plugin, lib, items)
        except (ClientError, DJSetError, ui.UserError) as exc:
            self._plugin._log.warning("analysis after import failed: {}", exc)
