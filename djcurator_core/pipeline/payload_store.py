"""The payload store: large data passed by reference (claim-check) instead of in Temporal.

Temporal refuses a payload over 2 MiB and warns above 512 KiB; a 100,000-track pool is
~25 MB of JSON (~3 MB gzipped). So large values are written to a folder of files named
by the SHA-256 of their content, and only the digest travels through Temporal:

- the client writes a large set's tracks there and starts the workflow with the digest
  (track_sets.py); each step reads the tracks by digest and passes the digest on;
- the codec (codec.py) does the same for any other payload that is still too large after
  compression (the justified result of a 10,000-track order, for one).

A digest names content, not a path: a reference from a payload can only ever open a file
inside the store folder the reading process itself is configured with, and the content
is checked against the digest when read. Writes go to a temp file renamed into place, so
concurrent writers of the same content and crashed writers leave no half files; a retried
step writes the same file again (idempotent). Files are removed after RETENTION_DAYS.

Where: DJSET_PAYLOAD_STORE, else the user cache folder (~/.cache/beets-djset/payloads),
else a folder in the temp directory. One machine (beet djset with its embedded server,
`beet djset --serve`, `python worker.py` beside it) needs nothing else. Workers on
several machines need the same store: mount one shared folder (NFS, SMB) on every
machine that runs a worker or starts sets, and point DJSET_PAYLOAD_STORE (or
`worker.py --payload-store`) at it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from pathlib import Path

STORE_ENV = "DJSET_PAYLOAD_STORE"
RETENTION_DAYS = 7
_DIGEST = re.compile(r"[0-9a-f]{64}")


class PayloadStoreError(Exception):
    """A reference that cannot be resolved, or a store that cannot be written; one line."""


class PayloadStore:
    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder).expanduser()

    def __repr__(self) -> str:
        return f"PayloadStore({str(self.folder)!r})"

    def _path(self, digest: str) -> Path:
        if not _DIGEST.fullmatch(digest):
            raise PayloadStoreError(f"not a payload reference: {digest[:80]!r}")
        return self.folder / digest[:2] / digest

    def put(self, data: bytes) -> str:
        """Store `data`; its SHA-256 digest (hex), which `get` takes."""
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if path.exists():
            with contextlib.suppress(OSError):
                os.utime(path)  # still in use: keep it past the retention
            return digest
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temp, path)
        except OSError as exc:
            raise PayloadStoreError(
                f"payload store {self.folder}: cannot write ({exc.strerror or exc})"
            ) from None
        self._prune(path.parent)
        return digest

    def get(self, digest: str) -> bytes:
        path = self._path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise PayloadStoreError(
                f"payload {digest[:12]} is not in the payload store {self.folder}: workers "
                f"and clients on several machines need one shared store (${STORE_ENV})"
            ) from None
        except OSError as exc:
            raise PayloadStoreError(
                f"payload store {self.folder}: cannot read {digest[:12]} ({exc.strerror or exc})"
            ) from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise PayloadStoreError(f"payload {digest[:12]} in {self.folder} is damaged")
        return data

    def _prune(self, folder: Path) -> None:
        """Remove files of this digest prefix older than RETENTION_DAYS (cheap: one of 256
        sub-folders per write)."""
        cutoff = time.time() - RETENTION_DAYS * 86400
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder):
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)


def default_folder() -> Path:
    configured = os.environ.get(STORE_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    user = Path(base) / "beets-djset" / "payloads"
    try:
        user.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=user):
            pass
        return user
    except OSError:
        uid = os.getuid() if hasattr(os, "getuid") else 0
        return Path(tempfile.gettempdir()) / f"beets-djset-{uid}" / "payloads"


def default_store() -> PayloadStore:
    return PayloadStore(default_folder())
