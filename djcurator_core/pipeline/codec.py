"""Gzip payload compression, so that a 10,000-track set stays under Temporal's 2 MiB blob limit.

Every client (worker, command line, tests) must use `data_converter()`: a payload written
by one side is read by the other. Payloads under `threshold` bytes stay as they are (plain
JSON, readable in the Web UI); larger ones are stored as ``binary/gzip`` and show as
encoded data in the UI.
"""

from __future__ import annotations

import dataclasses
import gzip
import zlib
from collections.abc import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

ENCODING = b"binary/gzip"
DEFAULT_THRESHOLD = 4096
# Anyone who can reach the server can start a workflow, and its input is decoded by the
# workers: a 2 MiB gzip "bomb" could inflate to gigabytes. Real payloads stay far below:
# the server refuses blobs over 2 MiB and JSON compresses about 6x.
MAX_DECODED_BYTES = 256 * 1024 * 1024


class PayloadCodecError(ValueError):
    """A binary/gzip payload that is not valid gzip or decompresses beyond the limit."""


class GzipPayloadCodec(PayloadCodec):
    def __init__(self, threshold: int = DEFAULT_THRESHOLD, level: int = 6) -> None:
        self.threshold = threshold
        self.level = level

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encode_one(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decode_one(payload) for payload in payloads]

    def encode_one(self, payload: Payload) -> Payload:
        if len(payload.data) < self.threshold:
            return payload
        data = gzip.compress(payload.SerializeToString(), compresslevel=self.level, mtime=0)
        return Payload(metadata={"encoding": ENCODING}, data=data)

    @staticmethod
    def decode_one(payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        inflater = zlib.decompressobj(wbits=31)  # gzip framing
        try:
            data = inflater.decompress(payload.data, MAX_DECODED_BYTES)
        except zlib.error as exc:
            raise PayloadCodecError(f"binary/gzip payload: {exc}") from None
        if inflater.unconsumed_tail:
            raise PayloadCodecError(
                f"binary/gzip payload decompresses beyond {MAX_DECODED_BYTES} bytes"
            )
        decoded = Payload()
        decoded.ParseFromString(data)
        return decoded


def data_converter(threshold: int = DEFAULT_THRESHOLD) -> DataConverter:
    """The pydantic data converter with gzip compression of large payloads."""
    return dataclasses.replace(
        pydantic_data_converter, payload_codec=GzipPayloadCodec(threshold=threshold)
    )
