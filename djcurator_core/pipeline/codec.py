"""Payload codec: gzip for large payloads, and a claim-check for those still too large.

Every client (worker, command line, tests) must use `data_converter()`: a payload written
by one side is read by the other. Payloads under `threshold` bytes stay as they are (plain
JSON, readable in the Web UI); larger ones are stored as ``binary/gzip``. A gzipped
payload still above OFFLOAD_ABOVE goes to the payload store (payload_store.py) and only
its digest travels through Temporal (``binary/djset-claim``), so no payload in a run's
history exceeds that size, whatever the pool size. (temporalio's own ExternalStorage does
the same but is experimental; this is the same pattern in a few lines.)
"""

from __future__ import annotations

import dataclasses
import gzip
import zlib
from collections.abc import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

from djcurator_core.pipeline.payload_store import PayloadStore, default_store

ENCODING = b"binary/gzip"
CLAIM_ENCODING = b"binary/djset-claim"
DEFAULT_THRESHOLD = 4096
# Below the server's 512 KiB warning (and far below its 2 MiB limit): the largest payload
# a run ever sends.
OFFLOAD_ABOVE = 256 * 1024
# Anyone who can reach the server can start a workflow, and its input is decoded by the
# workers: a 2 MiB gzip "bomb" could inflate to gigabytes. Real payloads stay far below:
# the server refuses blobs over 2 MiB and JSON compresses about 6x (a stored payload is
# at most a 100,000-track set: ~25 MB).
MAX_DECODED_BYTES = 256 * 1024 * 1024


class PayloadCodecError(ValueError):
    """A binary/gzip payload that is not valid gzip or decompresses beyond the limit, or a
    stored payload this process has no store for."""


class GzipPayloadCodec(PayloadCodec):
    def __init__(
        self,
        threshold: int = DEFAULT_THRESHOLD,
        level: int = 6,
        store: PayloadStore | None = None,
        offload_above: int = OFFLOAD_ABOVE,
    ) -> None:
        self.threshold = threshold
        self.level = level
        self.store = store
        self.offload_above = offload_above

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encode_one(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decode_one(payload) for payload in payloads]

    def encode_one(self, payload: Payload) -> Payload:
        if len(payload.data) < self.threshold:
            return payload
        data = gzip.compress(payload.SerializeToString(), compresslevel=self.level, mtime=0)
        if len(data) > self.offload_above and self.store is not None:
            digest = self.store.put(data)
            return Payload(metadata={"encoding": CLAIM_ENCODING}, data=digest.encode())
        return Payload(metadata={"encoding": ENCODING}, data=data)

    def decode_one(self, payload: Payload) -> Payload:
        encoding = payload.metadata.get("encoding")
        if encoding == CLAIM_ENCODING:
            if self.store is None:
                raise PayloadCodecError("a stored payload, but this process has no payload store")
            compressed = self.store.get(payload.data.decode("ascii", "replace"))
        elif encoding == ENCODING:
            compressed = payload.data
        else:
            return payload
        inflater = zlib.decompressobj(wbits=31)  # gzip framing
        try:
            data = inflater.decompress(compressed, MAX_DECODED_BYTES)
        except zlib.error as exc:
            raise PayloadCodecError(f"binary/gzip payload: {exc}") from None
        if inflater.unconsumed_tail:
            raise PayloadCodecError(
                f"binary/gzip payload decompresses beyond {MAX_DECODED_BYTES} bytes"
            )
        decoded = Payload()
        decoded.ParseFromString(data)
        return decoded


def data_converter(
    threshold: int = DEFAULT_THRESHOLD, store: PayloadStore | None = None
) -> DataConverter:
    """The pydantic data converter with gzip compression and the claim-check of large
    payloads (`store`: default_store(), i.e. DJSET_PAYLOAD_STORE or the user cache)."""
    codec = GzipPayloadCodec(threshold=threshold, store=store or default_store())
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec)
