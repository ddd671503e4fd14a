"""The workflow's three activities: thin wrappers over the pure core functions.

Each turns bad input into a non-retryable `ApplicationError` whose type names the kind of
problem (TrackFormatError, TrackFileError, SequencingError, JustificationError) and whose
message is the core's one-line message; anything else (a transient OS error, a crash)
is retried by Temporal. Long steps heartbeat from a background thread, so that a killed
worker is noticed within the heartbeat timeout, and the solver's progress messages go
into the heartbeat details.

A worker that started with a cold solver cache compiles the solver in the background
(solver_cache.prepare_in_background) while it serves: the sequencing step waits for that
compile first (`wait_for_solver`), heartbeating SOLVER_COMPILING, which the client shows
as "worker ... is starting".

Two environment variables serve diagnostics and the crash-recovery test:
DJSET_ACTIVITY_LOG (a file each activity execution appends one line to) and
DJSET_TEST_SEQUENCE_DELAY (seconds the sequencing step waits, heartbeating, before it
solves: makes "kill the worker mid-step" reproducible).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
import time
from collections.abc import Callable, Iterator

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory, CancelledError

from djcurator_core.core.models import Track, TrackFormatError, load_tracks, parse_tracks
from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.core.planning.planning import memory_estimate, plan_order
from djcurator_core.core.report.justify import justify_for_options
from djcurator_core.core.report.justify import memory_estimate as justify_memory_estimate
from djcurator_core.core.solver import solver_cache
from djcurator_core.core.solver.sequencing import SequencingError
from djcurator_core.errors import first_line
from djcurator_core.pipeline.contracts import (
    SOLVER_COMPILING,
    JustifiedSet,
    JustifyRequest,
    LoadedTracks,
    LoadRequest,
    SequencedOrder,
    SequenceRequest,
)
from djcurator_core.pipeline.payload_store import PayloadStoreError
from djcurator_core.pipeline.sets.track_sets import TrackSet, pack, unpack
from djcurator_core.pipeline.workers.memory_gate import worker_gate
from djcurator_core.pipeline.workers.worker_scope import current_scope

ACTIVITY_LOG_ENV = "DJSET_ACTIVITY_LOG"
SEQUENCE_DELAY_ENV = "DJSET_TEST_SEQUENCE_DELAY"
HEARTBEAT_INTERVAL = 0.5  # seconds between background heartbeats (the SDK throttles sends)
# Without a time budget of its own, the solver may search this share of the step's
# start-to-close timeout: the rest is for the cost matrix and the result.
SEARCH_SHARE_OF_TIMEOUT = 0.5
# The sequencing step waits for a starting worker's compile of the solver (10-30 s; over
# 100 s measured on a busy 2-core machine) at most this share of its timeout (the
# design's 60 s: 51 s); the search gets half of what is left (a first set of a few
# hundred tracks needs well under a second). A compile that takes longer fails the
# attempt as retryable SolverCompiling: the retry (here, the compile still going, or on a
# worker that is ready) waits again, within the step's 3 attempts (about 2.5 min in all).
COMPILE_WAIT_SHARE_OF_TIMEOUT = 0.85

# Errors whose retry cannot help: the file is not there or not a readable file.
_PERMANENT_OS_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


# --- helpers -----------------------------------------------------------------------------


def bad_input(error_type: str, message: str) -> ApplicationError:
    """A failure that retrying cannot fix: the activity runs once and the workflow fails.

    BENIGN: an expected user error, logged by the SDK at DEBUG level (no traceback in the
    output of a command that runs an in-process worker)."""
    return ApplicationError(
        message, type=error_type, non_retryable=True, category=ApplicationErrorCategory.BENIGN
    )


def _log_execution(name: str) -> None:
    """Append "<unix time> <activity> attempt=N pid=P workflow=ID" to $DJSET_ACTIVITY_LOG."""
    path = os.environ.get(ACTIVITY_LOG_ENV)
    if not path:
        return
    info = activity.info()
    line = (
        f"{time.time():.3f} {name} attempt={info.attempt} pid={os.getpid()} "
        f"workflow={info.workflow_id}\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@contextlib.contextmanager
def heartbeating(
    first: str = "started", interval: float = HEARTBEAT_INTERVAL
) -> Iterator[Callable[[str], None]]:
    """Heartbeat every `interval` seconds from a background thread while the body runs.

    Yields the progress callback for the solver: it records the message (sent as the
    heartbeat details) and heartbeats at once. Outside an activity this does nothing.
    """
    if not activity.in_activity():
        yield lambda message: None
        return
    latest = [first]
    stop = threading.Event()
    context = contextvars.copy_context()  # the activity context, for the other thread

    def beat() -> None:
        while not stop.wait(interval):
            with contextlib.suppress(Exception):
                context.run(activity.heartbeat, latest[0])

    def progress(message: str) -> None:
        latest[0] = message
        activity.heartbeat(message)

    thread = threading.Thread(target=beat, name="djset-heartbeat", daemon=True)
    activity.heartbeat(latest[0])
    thread.start()
    try:
        yield progress
    finally:
        stop.set()
        thread.join()


def with_search_budget(options: SetOptions, waited: float = 0.0) -> SetOptions:
    """Give the solver a time budget that fits the activity's timeout when none is set,
    so that a large set ends with the best order found instead of a timeout and retries.
    `waited`: seconds the step already spent (waiting for the compile, for memory) of
    its timeout."""
    if options.time_budget is not None or not activity.in_activity():
        return options
    timeout = activity.info().start_to_close_timeout
    if not timeout:
        return options
    budget = max(1.0, (timeout.total_seconds() - waited) * SEARCH_SHARE_OF_TIMEOUT)
    return options.model_copy(update={"time_budget": budget})


def wait_for_solver(progress: Callable[[str], None]) -> float:
    """Wait for this worker's background compile of the solver, if one runs; seconds waited.

    The caller heartbeats (`heartbeating`) and `progress` gets SOLVER_COMPILING, so the
    client can say that the worker is starting. It waits at most
    COMPILE_WAIT_SHARE_OF_TIMEOUT of the step's timeout, then the attempt fails as
    retryable SolverCompiling. Outside an activity it waits as long as the compile takes.
    """
    if not solver_cache.compiling():
        return 0.0
    timeout = activity.info().start_to_close_timeout if activity.in_activity() else None
    limit = timeout.total_seconds() * COMPILE_WAIT_SHARE_OF_TIMEOUT if timeout else None
    progress(SOLVER_COMPILING)
    started = time.monotonic()
    # short joins: a cancellation or the worker's shutdown is seen between them
    while not solver_cache.wait_for_compile(HEARTBEAT_INTERVAL):
        waited = time.monotonic() - started
        if activity.in_activity() and activity.is_cancelled():
            raise CancelledError("cancelled while waiting for the solver to compile")
        if activity.in_activity() and activity.is_worker_shutdown():
            # nothing to finish here: hand the step back now, not at the graceful timeout
            raise ApplicationError(
                "this worker is stopping before its solver is compiled; retrying",
                type="WorkerStopping",
                category=ApplicationErrorCategory.BENIGN,
            )
        if limit is not None and waited >= limit:
            raise ApplicationError(
                f"the solver is still compiling on this worker after {waited:.0f} s (its "
                "first run, on a busy machine): the step is retried while it has attempts "
                "left; else start the set again once the worker says 'solver ready'",
                type="SolverCompiling",
                category=ApplicationErrorCategory.BENIGN,  # expected: no traceback logged
            )
    return time.monotonic() - started


def stored_tracks(track_set: TrackSet) -> list[Track]:
    """The set's tracks; a reference this worker cannot resolve (another machine's store)
    is retried, perhaps on a worker that shares the client's store."""
    try:
        return unpack(track_set)
    except PayloadStoreError as exc:
        raise ApplicationError(str(exc), type="PayloadUnavailable") from None
    except TrackFormatError as exc:
        raise bad_input("TrackFormatError", first_line(exc)) from None


def pack_or_retry(tracks: list[Track]) -> TrackSet:
    """The tracks as a TrackSet (stored when large); a store that cannot be written is
    retried (a full disk may clear)."""
    try:
        return pack(tracks)
    except PayloadStoreError as exc:
        raise ApplicationError(str(exc), type="PayloadUnavailable") from None


def _test_delay() -> None:
    delay = float(os.environ.get(SEQUENCE_DELAY_ENV) or 0)
    if delay > 0:
        time.sleep(delay)


# --- the activities ----------------------------------------------------------------------


@activity.defn
def load_tracks_activity(request: LoadRequest) -> LoadedTracks:
    """Read and validate the tracks (a tracks_enriched file, or tracks given inline).

    Bad content, a FIFO or device in place of the file, or a file over the size limit is
    a TrackFormatError (non-retryable: the same input fails the same way again)."""
    _log_execution("load_tracks_activity")
    try:
        if request.path is not None:
            # Only where this worker's configuration allows (worker_scope).
            tracks = load_tracks(current_scope().tracks_file(request.path))
        elif request.stored is not None:
            tracks = stored_tracks(request.stored)
        elif request.tracks is not None:
            data = [track.model_dump() for track in request.tracks]
            tracks = parse_tracks(data, "inline tracks")
        else:
            raise bad_input("TrackFormatError", "no tracks: give a tracks file or the tracks")
    except TrackFormatError as exc:
        raise bad_input("TrackFormatError", first_line(exc)) from None
    except _PERMANENT_OS_ERRORS as exc:
        reason = exc.strerror or first_line(exc)
        raise bad_input("TrackFileError", f"{request.path}: {reason}") from None
    except OSError as exc:  # e.g. EIO on a network share: worth another attempt
        raise ApplicationError(
            f"{request.path}: {exc.strerror or first_line(exc)}", type="TrackFileUnavailable"
        ) from None
    return LoadedTracks(tracks=pack_or_retry(tracks), attempt=activity.info().attempt)


@activity.defn
def sequence_tracks_activity(request: SequenceRequest) -> SequencedOrder:
    """Order the tracks with `planning.plan_order` (which also picks the set's tracks).

    The solver's progress messages become heartbeat details; without a time budget in
    the options it gets half of what is left of this step's timeout after waiting for
    the solver's compile (`wait_for_solver`) and for memory (`with_search_budget`)."""
    _log_execution("sequence_tracks_activity")
    n = request.tracks.count
    needs = memory_estimate(n, request.options)
    ordering = f"ordering {n} tracks"
    # the first heartbeat says it already: the SDK sends later ones only every few seconds
    first = SOLVER_COMPILING if solver_cache.compiling() else ordering
    with heartbeating(first) as progress:
        compile_wait = wait_for_solver(progress)
        if compile_wait:
            progress(ordering)
        with worker_gate().hold(needs, progress) as waited:
            _test_delay()
            tracks = stored_tracks(request.tracks)
            try:
                options = with_search_budget(request.options, compile_wait + waited)
                plan = plan_order(
                    tracks, options, progress=progress, recent_sets=request.recent_sets
                )
            except SequencingError as exc:
                raise bad_input("SequencingError", first_line(exc)) from None
    return SequencedOrder(
        order=list(plan.order),
        notes=list(plan.notes),
        track_ids=[tracks[i].id for i in plan.order],
        attempt=activity.info().attempt,
    )


@activity.defn
def generate_justifications_activity(request: JustifyRequest) -> JustifiedSet:
    """Explain every transition and summarise the set with `justify.justify`, which also
    chooses the mix points where the tracks carry a structure (no step of their own: the
    activity sequence, and so the recorded histories, stay as they were)."""
    _log_execution("generate_justifications_activity")
    n = request.tracks.count
    bad = [i for i in request.order if not 0 <= i < n]
    if bad or len(set(request.order)) != len(request.order):
        raise bad_input(
            "JustificationError",
            f"order is not a selection of the {n} tracks (index {bad[0] if bad else 'repeated'})",
        )
    options = request.options
    needs = justify_memory_estimate(len(request.order))
    with (
        heartbeating(f"explaining {max(0, len(request.order) - 1)} transitions") as progress,
        worker_gate().hold(needs, progress),
    ):
        tracks = stored_tracks(request.tracks)
        result = justify_for_options(tracks, request.order, options, request.notes)
    return JustifiedSet(result_json=result.model_dump_json(), attempt=activity.info().attempt)


SET_ACTIVITIES = [load_tracks_activity, sequence_tracks_activity, generate_justifications_activity]
