"""A run's tracks as they travel between the workflow's steps: inline, or by reference.

Small sets travel inline, as they always did. A set above INLINE_TRACKS is written once
to the payload store (payload_store.py) and the steps pass a `TrackSet` holding only its
digest and size: the workflow never parses, copies or re-encodes a large track list
(which would also count against the SDK's 2 s deadlock timer), each step reads the
tracks from the store, and the sequencing step returns indices into them. So every
workflow input, activity input and result stays small whatever the pool size.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from djcurator_core.core.models import Track, TracksEnriched, loads_tracks
from djcurator_core.pipeline.payload_store import PayloadStore, default_store

INLINE_TRACKS = 1_000  # sets up to this many tracks travel inline


class TrackSet(BaseModel):
    """`count` tracks: inline in `tracks`, or stored under the digest `ref`."""

    count: int = Field(ge=0)
    tracks: list[Track] | None = None
    ref: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _one_form(self) -> TrackSet:
        if (self.tracks is None) == (self.ref is None):
            raise ValueError("a track set holds its tracks or a reference, not both or none")
        if self.tracks is not None and len(self.tracks) != self.count:
            raise ValueError(f"a track set of {self.count} tracks holds {len(self.tracks)}")
        return self


def _from_list(value):
    if isinstance(value, list):
        return {"count": len(value), "tracks": value}
    return value


# A TrackSet field that also takes a plain list of tracks (an inline set).
TrackSetField = Annotated[TrackSet, BeforeValidator(_from_list)]


def pack(
    tracks: Sequence[Track], store: PayloadStore | None = None, inline: int = INLINE_TRACKS
) -> TrackSet:
    """The tracks inline when they are few, else stored (gzipped tracks_enriched JSON)."""
    if len(tracks) <= inline:
        return TrackSet(count=len(tracks), tracks=list(tracks))
    text = TracksEnriched(tracks=list(tracks)).model_dump_json()
    digest = (store or default_store()).put(gzip.compress(text.encode(), 6, mtime=0))
    return TrackSet(count=len(tracks), ref=digest)


def unpack(track_set: TrackSet, store: PayloadStore | None = None) -> list[Track]:
    """The tracks of a set (PayloadStoreError when its reference cannot be resolved)."""
    if track_set.tracks is not None:
        return list(track_set.tracks)
    data = (store or default_store()).get(track_set.ref)
    return loads_tracks(gzip.decompress(data).decode(), f"stored track set {track_set.ref[:12]}")
