"""Activities of the analysis workflow: analyse a batch of audio files; store a batch's
results in the beets library (and, when asked, in the files' tags).

Analysis (`analyse_audio_batch`) is CPU work: the activity hands the batch's files to a
process pool of this machine's cores (one process per core, spawned, not forked: the
worker process runs Temporal's threads) and heartbeats as files finish. The heartbeat
carries the results so far, so a retried batch (worker killed, timeout) skips the files
it already did. A file that cannot be analysed is a result with an `error` line, never a
failed activity: one bad file must not cost the batch. Any worker that can read the
files at the paths given can serve this activity, on any machine.

Storing (`store_analysis_activity`) needs the beets library: it runs on the task queue
of the process that owns the library (the `beet` command's own worker), so analysis
workers elsewhere never touch the database. Each batch is stored as soon as it is
analysed: an interrupted run loses at most the batches in flight, and the next run
(which only picks tracks that still lack values) does not redo the rest.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import sqlite3
import threading
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError, CancelledError

from djcurator_core.files.tagging import tag_batch
from djcurator_core.pipeline.beets_library import (
    LibraryError,
    LibraryUnavailable,
    close_library,
    open_library,
    prepare_beets,
)
from djcurator_core.pipeline.contracts import (
    AnalysedBatch,
    AnalysedTrack,
    AnalysisBatch,
    AnalysisItem,
    StoredBatch,
    StoreRequest,
)
from djcurator_core.pipeline.sets.set_activities import _log_execution, bad_input
from djcurator_core.pipeline.workers.worker_scope import current_scope

PROCESSES_ENV = "DJSET_ANALYSIS_PROCESSES"
HEARTBEAT_EVERY = 2.0  # seconds between heartbeats while a slow file is analysed


# --- the process pool --------------------------------------------------------------------

_pool: concurrent.futures.ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def analysis_processes() -> int:
    """Processes for analysis: $DJSET_ANALYSIS_PROCESSES, else every core this process
    may run on."""
    configured = os.environ.get(PROCESSES_ENV, "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return tag_batch.processes()


def _single_threaded() -> None:
    """Pool initializer: one core per process, so N processes use N cores, not N^2."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # threadpoolctl comes with scikit-learn (librosa); optional here
        pass


def _pool_for_analysis() -> concurrent.futures.ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=analysis_processes(),
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_single_threaded,
            )
        return _pool


def shutdown_analysis_pool() -> None:
    """Stop the pool's processes (the worker's shutdown calls this)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def analyse_one(item: AnalysisItem) -> AnalysedTrack:
    """Analyse one file (runs in a pool process). Never raises for a bad file."""
    from djcurator_core.core.analysis.audio_analysis import AnalysisError
    from djcurator_core.core.keys import Key
    from djcurator_core.errors import first_line
    from djcurator_core.files.audio_decode import DecodeError, analyse_track

    try:
        analysis = analyse_track(item.path, genre=item.genre)
    except (DecodeError, AnalysisError) as exc:
        return AnalysedTrack(item_id=item.item_id, path=item.path, error=str(exc))
    except Exception as exc:  # a decoder tripping over a damaged file: same as above
        reason = f"{type(exc).__name__}: {first_line(exc)}"
        return AnalysedTrack(item_id=item.item_id, path=item.path, error=f"{item.path}: {reason}")
    result = analysis.estimates
    key = Key.from_pitch_class(result.key_pitch_class, result.key_minor)
    start, end = (
        (Key.from_pitch_class(*result.key_start).name, Key.from_pitch_class(*result.key_end).name)
        if result.key_start and result.key_end
        else (None, None)
    )
    return AnalysedTrack(
        item_id=item.item_id,
        path=item.path,
        bpm=result.bpm,
        key=key.name,
        energy=result.energy,
        key_confidence=result.key_confidence,
        key_start=start,
        key_end=end,
        bpm_start=result.bpm_start,
        bpm_end=result.bpm_end,
        structure=analysis.structure,
        structure_analysed=True,
    )


def _earlier_results(items: list[AnalysisItem]) -> dict[int, AnalysedTrack]:
    """Results an earlier attempt of this activity reported in its last heartbeat."""
    if not activity.in_activity():
        return {}
    details = activity.info().heartbeat_details
    wanted = {item.item_id for item in items}
    done: dict[int, AnalysedTrack] = {}
    for detail in details or ():
        if isinstance(detail, dict):
            for raw in detail.get("done", ()):
                try:
                    track = AnalysedTrack.model_validate(raw)
                except ValueError:
                    continue
                if track.item_id in wanted:
                    done[track.item_id] = track
    return done


def analyse_batch(batch: AnalysisBatch, pool: Any = None) -> AnalysedBatch:
    """Analyse the batch's files in the process pool, heartbeating as files finish."""
    done = _earlier_results(batch.items)
    resumed = len(done)
    todo = [item for item in batch.items if item.item_id not in done]
    in_activity = activity.in_activity()

    def beat() -> None:
        if in_activity:
            activity.heartbeat(
                {
                    "done": [track.model_dump() for track in done.values()],
                    "total": len(batch.items),
                }
            )

    beat()
    pool = pool or _pool_for_analysis()
    futures = {pool.submit(analyse_one, item): item for item in todo}
    try:
        pending = set(futures)
        while pending:
            finished, pending = concurrent.futures.wait(
                pending, timeout=HEARTBEAT_EVERY, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in finished:
                item = futures[future]
                try:
                    done[item.item_id] = future.result()
                except concurrent.futures.process.BrokenProcessPool:
                    raise
                except Exception as exc:  # the pool could not run it (pickling, ...)
                    done[item.item_id] = AnalysedTrack(
                        item_id=item.item_id, path=item.path, error=f"{item.path}: {exc}"
                    )
            if in_activity and activity.is_cancelled():
                raise CancelledError("analysis cancelled")
            beat()
    except concurrent.futures.process.BrokenProcessPool:
        shutdown_analysis_pool()  # a pool process died (killed, crashed): a new pool
        raise ApplicationError(  # noqa: B904 -- retryable: the heartbeat keeps what is done
            "an analysis process died; retrying the batch", type="AnalysisPoolBroken"
        )
    finally:
        for future in futures:
            future.cancel()
    attempt = activity.info().attempt if in_activity else 1
    ordered = [done[item.item_id] for item in batch.items]
    return AnalysedBatch(tracks=ordered, attempt=attempt, resumed=resumed)


# --- storing -----------------------------------------------------------------------------


ANALYSED_FIELDS = frozenset({"bpm", "key", "energy", "structure"})


def fields_to_fill(item: Any, force: bool) -> set[str]:
    """Which of bpm, key, energy and structure the item lacks (as the export sees it:
    library values and the file's own tags; a structure stored as "no beat" counts as
    there, a damaged one as missing), or all four with force."""
    if force:
        return set(ANALYSED_FIELDS)
    from djcurator_core.files.export import item_path, item_to_track
    from djcurator_core.files.tagging.tags import DJTags, read_dj_tags

    path = item_path(item)
    try:
        tags = read_dj_tags(path) if path else DJTags()
    except Exception:  # unreadable tags: judge by the library's values alone
        tags = DJTags()
    try:
        track, _ = item_to_track(item, tags)
    except ValueError:  # a value out of range: the export cannot use it either
        return set(ANALYSED_FIELDS)
    missing = {
        name
        for name, value in (("bpm", track.bpm), ("key", track.key), ("energy", track.energy))
        if value is None
    }
    if track.structure is None and not structure_recorded(item, tags):
        missing.add("structure")
    return missing


def structure_recorded(item: Any, tags: Any) -> bool:
    """True when the library or the file says the track was analysed and has no beat."""
    from djcurator_core.files.export import stored_field
    from djcurator_core.files.tagging.structure_tag import NO_STRUCTURE, STRUCTURE_FIELD

    texts = (stored_field(item, STRUCTURE_FIELD), tags.structure)
    return any(str(text).strip() == NO_STRUCTURE for text in texts if text is not None)


KEY_CONFIDENCE_FIELD = "key_confidence"  # beets flexible fields the analysis fills
KEY_START_FIELD, KEY_END_FIELD = "key_start", "key_end"
BPM_START_FIELD, BPM_END_FIELD = "bpm_start", "bpm_end"


def _set_or_clear(item: Any, field: str, value: Any) -> None:
    """Set a flexible field, or remove it (a value an earlier analysis left behind must
    not outlive the key or tempo it described)."""
    if value is not None:
        item[field] = value
    elif field in item.keys(computed=False):
        del item[field]


def store_key_details(item: Any, track: AnalysedTrack) -> None:
    """The key's confidence and, when the key changes inside the track, the opening and
    ending key, beside the key itself."""
    _set_or_clear(item, KEY_CONFIDENCE_FIELD, track.key_confidence)
    _set_or_clear(item, KEY_START_FIELD, track.key_start)
    _set_or_clear(item, KEY_END_FIELD, track.key_end)


def store_tempo_change(item: Any, track: AnalysedTrack) -> None:
    _set_or_clear(item, BPM_START_FIELD, track.bpm_start)
    _set_or_clear(item, BPM_END_FIELD, track.bpm_end)


def store_results(lib: Any, tracks: list[AnalysedTrack], force: bool, write_tags: bool):
    """Put the batch's estimates into the library (and the files' tags): only the values
    an item lacks, all of them with force; the structure as JSON text in the flexible
    field `djset_structure` (files/tagging/structure_tag.py). Returns a StoredBatch."""
    from djcurator_core.files.export import PRECISE_BPM_FIELD
    from djcurator_core.files.tagging.structure_tag import STRUCTURE_FIELD, structure_text
    from djcurator_core.files.tagging.tag_writer import TagWriteError, write_dj_tags

    result = StoredBatch()
    with lib.transaction():
        for track in tracks:
            if track.error or track.bpm is None:
                continue
            item = lib.get_item(track.item_id)
            if item is None:
                result.warnings.append(f"{track.path}: no longer in the library, not stored")
                continue
            fill = fields_to_fill(item, force)
            if not track.structure_analysed:
                fill.discard("structure")
            if not fill:
                continue
            if "bpm" in fill:
                item.bpm = int(round(track.bpm))
                item[PRECISE_BPM_FIELD] = track.bpm
            if "key" in fill:
                item.initial_key = track.key
                store_key_details(item, track)
            if "bpm" in fill:
                store_tempo_change(item, track)
            if "energy" in fill:
                item["energy"] = float(track.energy)
            structure = structure_text(track.structure) if "structure" in fill else None
            if structure is not None:
                item[STRUCTURE_FIELD] = structure
            if write_tags:
                try:
                    write_dj_tags(
                        item.path,
                        bpm=track.bpm if "bpm" in fill else None,
                        key=track.key if "key" in fill else None,
                        energy=track.energy if "energy" in fill else None,
                        key_confidence=track.key_confidence if "key" in fill else None,
                        structure=structure,
                    )
                    item.mtime = item.current_mtime()
                    result.files_written += 1
                except TagWriteError as exc:
                    result.warnings.append(f"{exc}; the library has the values")
            item.store()
            result.stored += 1
    return result


@activity.defn
def analyse_audio_batch(batch: AnalysisBatch) -> AnalysedBatch:
    """Analyse a batch of files on this machine's cores."""
    _log_execution("analyse_audio_batch")
    return analyse_batch(batch)


@activity.defn
def store_analysis_activity(request: StoreRequest) -> StoredBatch:
    """Store a batch's results in the beets library (see store_results)."""
    _log_execution("store_analysis_activity")
    prepare_beets()
    try:
        # only a library this worker's configuration names (worker_scope)
        lib = open_library(request.library, current_scope())
    except LibraryUnavailable as exc:  # locked or unreadable now: retried
        raise ApplicationError(str(exc), type="LibraryUnavailable") from None
    except LibraryError as exc:
        raise bad_input("LibraryError", str(exc)) from None
    try:
        with lib.music_dir_context():
            return store_results(lib, request.tracks, request.force, request.write_tags)
    except sqlite3.Error as exc:  # "database is locked" while beets writes: retry
        raise ApplicationError(
            f"beets library {request.library.db}: {exc}", type="LibraryUnavailable"
        ) from None
    finally:
        close_library(lib)


ANALYSIS_ACTIVITIES = [analyse_audio_batch, store_analysis_activity]
