"""Helpers for tests that run the pipeline: worker processes, history, synthetic tracks."""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import WorkflowHandle

from djcurator_core.core.keys import ALL_KEYS
from djcurator_core.core.models import Track
from djcurator_core.pipeline.workers.worker_scope import WorkerScope

ROOT = Path(__file__).resolve().parent.parent
TEMP = tempfile.gettempdir()
# What the tests' workers may touch (their own configuration, as a user's would be): the
# fixtures and the temp folder every test's tmp_path lives in.
TEST_SCOPE = WorkerScope(
    playlist_dirs=(TEMP,), libraries=(TEMP,), tracks_dirs=(str(ROOT / "fixtures"), TEMP)
)
TEST_SCOPE_ARGS = [
    *("--playlist-dir", TEMP),
    *("--library", TEMP),
    *("--tracks-dir", str(ROOT / "fixtures")),
    *("--tracks-dir", TEMP),
]


class OutputLines:
    """A subprocess's output lines, collected by a thread as they come (`output`)."""

    label = "process"  # names it in a failed wait
    line_timeout = 30.0

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_for_line(self, text: str, timeout: float | None = None) -> str:
        deadline = time.monotonic() + (self.line_timeout if timeout is None else timeout)
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            if text in line:
                return line
        raise AssertionError(f"{self.label} never printed {text!r}; output: {''.join(self.output)}")


class WorkerProcess(OutputLines):
    """`python worker.py` in a subprocess, against the given server and queue, allowed
    what TEST_SCOPE_ARGS allow; `args` are more flags."""

    label = "worker"

    def __init__(
        self,
        address: str,
        task_queue: str,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
    ) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
        full_env.update({"TEMPORAL_ADDRESS": address, "PYTHONUNBUFFERED": "1"})
        full_env.update(env or {})
        argv = [sys.executable, str(ROOT / "worker.py"), "--task-queue", task_queue]
        super().__init__(
            subprocess.Popen(
                [*argv, *TEST_SCOPE_ARGS, *(args or [])],
                cwd=ROOT,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 30.0) -> None:
        self.wait_for_line("polling task queue", timeout)

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 20.0) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@dataclass(frozen=True)
class ActivityRecord:
    activity: str
    scheduled: int  # how many times the workflow scheduled it
    last_attempt: int  # attempt of the recorded Started event (only the last is recorded)
    # The failure of the attempt before it, as that Started event records it: "" if none.
    previous_failure: str = ""


async def activity_records(handle: WorkflowHandle) -> dict[str, ActivityRecord]:
    """Per activity type: times scheduled, the attempt of its (last) Started event and the
    failure that made the server retry it (type: message)."""
    history = await handle.fetch_history()
    names: dict[int, str] = {}
    scheduled: Counter[str] = Counter()
    started: dict[str, tuple[int, str]] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            names[event.event_id] = name
            scheduled[name] += 1
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = event.activity_task_started_event_attributes
            failure = ""
            if attrs.HasField("last_failure"):
                last = attrs.last_failure
                if last.HasField("timeout_failure_info"):  # e.g. TIMEOUT_TYPE_HEARTBEAT
                    kind = TimeoutType.Name(last.timeout_failure_info.timeout_type)
                else:
                    kind = last.application_failure_info.type or "failure"
                failure = f"{kind}: {last.message}"
            started[names[attrs.scheduled_event_id]] = (attrs.attempt, failure)
    return {
        name: ActivityRecord(name, scheduled[name], *started.get(name, (0, "")))
        for name in scheduled
    }


def history_payloads(history) -> list[Payload]:
    """Every payload (as stored: encoded) in the inputs and results of a history's events."""
    found = []
    for event in history.events:
        attrs = getattr(event, event.WhichOneof("attributes"))
        for field in ("input", "result"):
            if attrs.DESCRIPTOR.fields_by_name.get(field) and attrs.HasField(field):
                found += list(getattr(attrs, field).payloads)
    return found


def read_log(path: Path) -> list[dict[str, str]]:
    """Lines of $DJSET_ACTIVITY_LOG as dicts: time, activity, attempt, pid, workflow."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        stamp, activity, *pairs = line.split()
        record = {"time": stamp, "activity": activity}
        record.update(pair.split("=", 1) for pair in pairs)
        records.append(record)
    return records


def synthetic_tracks(n: int, seed: int = 0) -> list[Track]:
    """n plausible tracks (house/techno tempos, every key, energy 1-10) with long text fields,
    so that payload sizes resemble a real library export."""
    rng = random.Random(seed)
    keys = [key.camelot for key in ALL_KEYS]
    genres = ["Techno", "Deep House", "Tech House", "Trance", "Progressive House", "Minimal"]
    tracks = []
    for i in range(n):
        artist = f"Artist {rng.randrange(n // 3 + 1)}"
        album = f"Album {rng.randrange(n // 8 + 1)}"
        title = f"Track Title {i} ({rng.choice(['Original Mix', 'Extended Mix', 'Dub'])})"
        tracks.append(
            Track(
                id=f"t{i:05d}",
                path=f"/music/{artist}/{album}/{i:05d} {title}.flac",
                title=title,
                artist=artist,
                album=album,
                genre=rng.choice(genres),
                duration=round(rng.uniform(180, 480), 1),
                bpm=round(rng.uniform(118, 132), 2),
                key=rng.choice(keys),
                energy=rng.randint(1, 10),
            )
        )
    return tracks
