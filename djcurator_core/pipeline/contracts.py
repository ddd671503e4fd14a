"""Every data shape that crosses Temporal: the workflow's request and progress, and each
activity's input and output.

They are pydantic models, carried by the pydantic data converter (codec.py), so that a
bad request is refused with a field-named one-line error before anything runs, and so
that the workflow, the activities, the client and the schedules agree on one definition.
Changing a field here changes what is stored in workflow histories: keep new fields
optional with defaults, so that recorded runs still replay.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from djcurator_core.core.models import Track
from djcurator_core.core.options.set_options import SetOptions
from djcurator_core.core.report.justify import SetResult
from djcurator_core.core.track_structure import TrackStructure
from djcurator_core.files.dj_formats.formats import FormatName
from djcurator_core.pipeline.sets.track_sets import TrackSet, TrackSetField

# --- the workflow ------------------------------------------------------------------------

DEFAULT_TASK_QUEUE = "djset"
WORKFLOW_NAME = "DJSetWorkflow"

Status = Literal[
    "initializing",
    "exporting_tracks",
    "loading_tracks",
    "sequencing_tracks",
    "generating_justifications",
    "writing_playlist",
    "completed",
    "failed",
]

# (status while the step runs, activity name)
STEPS: tuple[tuple[str, str], ...] = (
    ("loading_tracks", "load_tracks_activity"),
    ("sequencing_tracks", "sequence_tracks_activity"),
    ("generating_justifications", "generate_justifications_activity"),
)
# Optional steps: the export replaces the load when the request names a library.
EXPORT_STEP = ("exporting_tracks", "export_tracks_activity")
PLAYLIST_STEP = ("writing_playlist", "write_playlist_activity")


class SetRequest(BaseModel):
    """What to make a set of: a tracks_enriched file the worker reads, the tracks, or a
    beets library and query (exported by the worker when the run runs); optionally where
    the worker writes the playlist."""

    name: str = Field(min_length=1)
    tracks_path: str | None = None
    tracks: list[Track] | None = None
    stored_tracks: TrackSet | None = None  # a large set, put in the payload store by the client
    library: LibrarySource | None = None
    options: SetOptions = SetOptions()
    playlist: PlaylistTarget | None = None
    # scheduled runs: hold back the tracks of the schedule's last this-many sets
    # (set_history.py); 0 = no history
    fresh_sets: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _one_source(self) -> SetRequest:
        given = [self.tracks_path, self.tracks, self.stored_tracks, self.library]
        if sum(source is not None for source in given) != 1:
            raise ValueError("give exactly one of tracks_path, tracks, stored_tracks and library")
        return self


def steps_for(request: SetRequest) -> tuple[tuple[str, str], ...]:
    """(status, activity) of each step the request's run takes, in order."""
    first = EXPORT_STEP if request.library is not None else STEPS[0]
    last = (PLAYLIST_STEP,) if request.playlist is not None else ()
    return (first, *STEPS[1:], *last)


# The sequencing step's heartbeat while its worker, just started with a cold solver cache,
# compiles the solver (solver_cache.prepare_in_background): the client's sign that the
# worker is starting, not missing.
SOLVER_COMPILING = "waiting for this worker's solver to compile (its first run only)"


class Progress(BaseModel):
    status: Status = "initializing"
    step: str | None = None  # activity of the current (or failed) step
    step_number: int = 0  # 1..total_steps once a step started
    total_steps: int = len(STEPS)
    tracks_loaded: int | None = None
    playlist: str | None = None  # the playlist files written (runs with a playlist target)
    timings: dict[str, float] = {}  # seconds per finished step, by activity name
    attempts: dict[str, int] = {}  # attempt each finished step succeeded on
    error_type: str | None = None
    error: str | None = None
    # Filled in by the client from the server's view of the running step (the workflow
    # cannot know them): its current attempt and its last heartbeat message.
    attempt: int | None = None
    detail: str | None = None
    # What the run waits for, when the worker running the step says it waits (its
    # heartbeat is SOLVER_COMPILING): "worker ID is starting: ...".
    waiting_for: str | None = None

    def line(self) -> str:
        """A one-line rendering for command lines (without `detail`, which changes often;
        with `waiting_for`)."""
        if self.status in ("initializing", "completed", "failed"):
            text = self.status
        else:
            text = f"step {self.step_number}/{self.total_steps}: {self.status}"
        if self.tracks_loaded is not None:
            text += f" ({self.tracks_loaded} tracks)"
        if self.attempt and self.attempt > 1 and self.status not in ("completed", "failed"):
            text += f" attempt {self.attempt}"
        if self.error:
            text += f": {self.error_type}: {self.error}"
        elif self.waiting_for:
            text += f": waiting for {self.waiting_for}"
        return text


# --- the set activities ------------------------------------------------------------------


class LoadRequest(BaseModel):
    path: str | None = None  # a tracks_enriched file, read by the worker
    tracks: list[Track] | None = None  # or the tracks themselves
    stored: TrackSet | None = None  # or a track set the client put in the payload store


class LoadedTracks(BaseModel):
    tracks: TrackSetField  # inline or by reference (track_sets.py)
    attempt: int = 1


class SequenceRequest(BaseModel):
    tracks: TrackSetField
    options: SetOptions = SetOptions()
    recent_sets: list[list[str]] = []  # track ids of the schedule's last sets, newest first


class SequencedOrder(BaseModel):
    order: list[int]  # indices into the request's tracks, in set order
    notes: list[str] = []
    # the set's track ids in order: the workflow never holds a large pool's tracks
    # (track_sets.py) but remembers scheduled sets by id (set_history.py)
    track_ids: list[str] = []
    attempt: int = 1


class JustifyRequest(BaseModel):
    tracks: TrackSetField
    order: list[int]
    options: SetOptions = SetOptions()
    notes: list[str] = []


class JustifiedSet(BaseModel):
    """The set as JSON text: the workflow passes it on as its own result without parsing
    it. Parsing and re-encoding 10,000 tracks and transitions inside workflow code counts
    against the SDK's 2 s deadlock timer (a timeout there makes the task retry forever)."""

    result_json: str  # a SetResult
    attempt: int = 1

    @property
    def result(self) -> SetResult:
        return SetResult.model_validate_json(self.result_json)


# --- the library activities --------------------------------------------------------------


class LibrarySource(BaseModel):
    """Where a scheduled set's tracks come from: a beets query, evaluated when it runs."""

    db: str = Field(min_length=1)  # absolute path of the beets library database
    directory: str | None = None  # beets' music directory (for relative paths in the db)
    query: list[str] = []  # beets query words; empty = the whole library
    keep_incomplete: bool = False  # keep tracks without BPM or key (neutral scores)

    def shown_query(self) -> str:
        return " ".join(self.query) or "(whole library)"


class PlaylistFile(BaseModel):
    path: str = Field(min_length=1)  # absolute path of the file
    format: FormatName = "m3u8"


class PlaylistTarget(BaseModel):
    """Where and how the workflow writes the playlist: one file per format.

    The first file is `path`/`format` (the only one before a run could write several
    formats, so schedules made then still parse); `more` holds the other formats' files
    (`--format m3u8,rekordbox`), written in that order."""

    path: str = Field(min_length=1)  # absolute path of the first format's file
    format: FormatName = "m3u8"
    more: list[PlaylistFile] = []
    relative_to: str | None = None  # folder the M3U8 entries are relative to; None = absolute
    forward_slash: bool = False
    mixxx_autodj: Literal["off", "append", "replace"] = "off"  # format mixxx: the Auto DJ queue
    mixxx_crate: str | None = None  # format mixxx: also a crate of this name

    @classmethod
    def of_files(cls, files: list[PlaylistFile], **settings) -> PlaylistTarget:
        first, *more = files
        return cls(path=first.path, format=first.format, more=more, **settings)

    def files(self) -> list[PlaylistFile]:
        return [PlaylistFile(path=self.path, format=self.format), *self.more]

    def shown(self) -> str:
        """ "/lists/a.m3u8 (m3u8), /lists/a.xml (rekordbox)" """
        return ", ".join(f"{file.path} ({file.format})" for file in self.files())


class ExportedTracks(BaseModel):
    tracks: TrackSetField  # inline or by reference (track_sets.py)
    matched: int  # items the query matched
    skipped: list[str] = []  # the first MAX_REPORTED_SKIPS left-out items, one line each
    skipped_count: int = 0
    attempt: int = 1


class WritePlaylistRequest(BaseModel):
    # The SetResult as the justification step returned it, passed on unparsed: parsing a
    # large set in workflow code counts against the SDK's deadlock timer (activities.py).
    result_json: str
    target: PlaylistTarget
    name: str
    query: list[str] | None = None  # shown in the playlist's header


class WrittenPlaylist(BaseModel):
    path: str  # the first file written
    paths: list[str] = []  # every file written, in order
    track_count: int
    attempt: int = 1


# --- the schedule's history (set_history.py) ---------------------------------------------

DEFAULT_FRESH_SETS = 3  # sets a scheduled run holds back (djset.schedule.fresh_sets)


class RememberSet(BaseModel):
    """A scheduled run's set, to be added to its schedule's history."""

    schedule_id: str = Field(min_length=1)
    track_ids: list[str]
    keep: int = Field(DEFAULT_FRESH_SETS, ge=1)  # sets the history keeps


# --- the analysis workflow (beet djanalyze) ------------------------------------------------


class AnalysisItem(BaseModel):
    item_id: int
    path: str = Field(min_length=1)
    genre: str | None = None  # beets' genre: picks the tempo's octave (core/analysis/tempo_prior)


class AnalysedTrack(BaseModel):
    """One file's estimates, or the one line saying why there are none."""

    item_id: int
    path: str
    bpm: float | None = None
    key: str | None = None  # musical name, e.g. "F#m"
    energy: int | None = None
    # beat grid, phrases, intro/outro; None with structure_analysed: no beat to grid.
    # structure_analysed False: a worker that does not analyse structure (older).
    structure: TrackStructure | None = None
    structure_analysed: bool = False
    error: str | None = None
    key_confidence: float | None = None  # 0..1; below LOW_KEY_CONFIDENCE: uncertain
    key_start: str | None = None  # a key change: the opening's and the ending's key
    key_end: str | None = None
    bpm_start: float | None = None  # a tempo change: the opening's and the ending's tempo
    bpm_end: float | None = None

    @property
    def changes(self) -> bool:
        return bool(self.key_start and self.key_end) or bool(self.bpm_start and self.bpm_end)


LOW_KEY_CONFIDENCE = 0.5  # core/analysis/key_estimation.LOW_CONFIDENCE (no numpy here)


class AnalysisBatch(BaseModel):
    items: list[AnalysisItem]


class AnalysedBatch(BaseModel):
    tracks: list[AnalysedTrack]
    attempt: int = 1
    resumed: int = 0  # results taken over from an earlier attempt's heartbeat


class StoreRequest(BaseModel):
    library: LibrarySource
    tracks: list[AnalysedTrack]
    force: bool = False  # replace values the items already have
    write_tags: bool = False  # also write the files' tags


class StoredBatch(BaseModel):
    stored: int = 0  # items that got at least one new value
    files_written: int = 0
    warnings: list[str] = []  # one line each (item gone, tag write failed)


class AnalysisRequest(BaseModel):
    items: list[AnalysisItem]
    library: LibrarySource | None = None  # where to store results; None = only report
    store_task_queue: str | None = None  # worker owning the library; None = this queue
    force: bool = False
    write_tags: bool = False
    batch_size: int = Field(default=16, ge=1, le=500)
    parallel_batches: int = Field(default=2, ge=1, le=64)


class AnalysisProgress(BaseModel):
    total: int = 0
    done: int = 0  # analysed or failed
    failed: int = 0
    stored: int = 0
    files_written: int = 0


class AnalysisSummary(BaseModel):
    progress: AnalysisProgress
    failures: list[str] = []  # one line per bad file, naming it
    warnings: list[str] = []  # from storing (tag writes that failed, items gone)
    tracks: list[AnalysedTrack] = []  # every result, when no library stores them
    changes: list[AnalysedTrack] = []  # tracks whose key or tempo changes inside them
    uncertain_keys: int = 0  # tracks whose key came out below LOW_KEY_CONFIDENCE
