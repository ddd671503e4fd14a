"""The local service behind `beet djset --serve`: Temporal dev server + Web UI + a worker.

Runs until SIGINT/SIGTERM: the embedded server (loopback, SQLite file, so schedules and
run histories survive restarts), its Web UI, and a worker that serves the pipeline and
the library activities. With a configured Temporal server, only the worker runs (the
server is the user's). One service per state folder: an exclusive lock (flock, released
by the OS when the process dies, so a crash leaves no stale lock) and a small JSON file
saying who runs it, on which address and Web UI, written (atomically) once the server
answers. Other commands find the running service's server through that file
(`running_service`), and wait while the lock is held but the file not yet written.

Private by default (docs/hardening.md): the state folder is 0700 and every file in it
(database, log, lock, state) 0600; the server runs with umask 077. The worker writes
playlists, opens libraries and reads tracks files only as `ServiceConfig.scope` allows
(from the user's beets configuration), whatever a request asks. The Web UI shows gzip
payloads decoded through a loopback codec server (codec_server.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from djcurator_core.pipeline.contracts import DEFAULT_TASK_QUEUE
from djcurator_core.pipeline.server.codec_server import CodecServer
from djcurator_core.pipeline.server.dev_server import (
    HOST,
    EmbeddedServer,
    EmbeddedServerError,
    port_open,
)
from djcurator_core.pipeline.sets.client import ClientError, ConnectionSettings, connect
from djcurator_core.pipeline.workers.worker import run_worker, worker_resources
from djcurator_core.pipeline.workers.worker_scope import DENY_ALL, WorkerScope
from djcurator_core.process import stop_on_signals

LOCK_FILE = "service.lock"
STATE_FILE = "service.json"
DB_FILE = "temporal.db"
LOG_FILE = "temporal.log"
DEFAULT_PORT = 7233
DEFAULT_UI_PORT = 8233
STARTING_WAIT = 30.0  # seconds a command waits for a service that is starting
GRACEFUL_TIMEOUT = timedelta(seconds=10)  # running steps may finish after a stop signal
PRIVATE_UMASK = 0o077  # the state folder 0700, its files 0600


class ServiceError(ClientError):
    """The service cannot start or run; str() is one line."""


@dataclass(frozen=True)
class ServiceInfo:
    """What the state file says about a running service."""

    pid: int
    address: str
    namespace: str
    task_queue: str
    ui_url: str | None
    embedded: bool

    def describe(self) -> str:
        text = f"pid {self.pid}, Temporal at {self.address}"
        return text + (f", Web UI {self.ui_url}" if self.ui_url else "")

    def connection_settings(self) -> ConnectionSettings:
        return ConnectionSettings(
            address=self.address, namespace=self.namespace, use_environment=False
        )


def _read_state(state_dir: Path) -> ServiceInfo | None:
    try:
        data = json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))
        return ServiceInfo(**data)
    except (OSError, ValueError, TypeError):
        return None


def _lock_held(state_dir: Path) -> bool:
    try:
        fd = os.open(state_dir / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def running_service(
    state_dir: str | os.PathLike[str], wait: float = STARTING_WAIT
) -> ServiceInfo | None:
    """The service running for this state folder, or None (checked with its lock).

    The service takes the lock first and writes its state file once its server answers,
    so a held lock without a state file is a service starting (or stopping): wait for it
    to be ready (or gone) rather than start a second server; ServiceError after `wait`
    seconds."""
    state_dir = Path(state_dir)
    deadline = time.monotonic() + wait
    while _lock_held(state_dir):
        info = _read_state(state_dir)
        if info is not None:
            return info
        if time.monotonic() >= deadline:
            raise ServiceError(
                f"beet djset --serve is starting (state in {state_dir}) and not ready "
                f"after {wait:g} s; try again when it says 'worker polling'"
            )
        time.sleep(0.1)
    return None


def make_private(state_dir: Path) -> None:
    """Create the state folder 0700, and make an existing one and its files private (a
    folder made by an older version may be 0755 with a 0644 database)."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(state_dir, 0o700)
    for entry in os.scandir(state_dir):
        if entry.is_file(follow_symlinks=False):
            os.chmod(entry.path, 0o600)


class ServiceLock:
    """The exclusive lock of a state folder; ServiceError names the running service."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._fd: int | None = None

    def acquire(self) -> None:
        make_private(self.state_dir)
        fd = os.open(self.state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            info = _read_state(self.state_dir)
            detail = f" ({info.describe()})" if info else ""
            raise ServiceError(
                f"beet djset --serve is already running{detail}; state in {self.state_dir}"
            ) from None
        self._fd = fd
        with contextlib.suppress(FileNotFoundError):  # left by a service that crashed
            (self.state_dir / STATE_FILE).unlink()

    def write_state(self, info: ServiceInfo) -> None:
        path = self.state_dir / STATE_FILE
        temp = path.with_suffix(".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(info)))
        os.replace(temp, path)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            (self.state_dir / STATE_FILE).unlink()
        if self._fd is not None:
            os.close(self._fd)  # releases the flock
            self._fd = None


@dataclass(frozen=True)
class ServiceConfig:
    state_dir: Path
    port: int = DEFAULT_PORT
    ui_port: int | None = DEFAULT_UI_PORT  # None: no Web UI
    db_path: Path | None = None  # None: state_dir / temporal.db
    task_queue: str = DEFAULT_TASK_QUEUE
    settings: ConnectionSettings | None = None  # a configured server: run only the worker
    scope: WorkerScope = DENY_ALL  # what the worker may touch (from the beets config)
    memory_limit: int | None = None  # bytes for heavy steps at once (None: memory_gate default)


async def run_service(
    config: ServiceConfig,
    say: Callable[[str], None] = print,
    stop: asyncio.Event | None = None,
) -> int:
    """Run until `stop` is set or SIGINT/SIGTERM arrives; return the exit status."""
    lock = ServiceLock(config.state_dir)
    lock.acquire()
    server: EmbeddedServer | None = None
    codec_server: CodecServer | None = None
    served = False
    stop = stop or asyncio.Event()

    def on_second_signal() -> None:  # no more waiting for running steps
        if server is not None:
            server.stop()

    remove_signal_handlers = stop_on_signals(stop, on_second_signal)
    try:
        if config.settings is None:
            codec_server = _start_codec_server(config)
            server = await _start_server(config, codec_server)
            settings = server.connection_settings()
        else:
            settings = config.settings
        client = await connect(settings)
        async with run_worker(
            client,
            config.task_queue,
            scope=config.scope,
            say=say,
            memory_limit=config.memory_limit,
            graceful_shutdown_timeout=GRACEFUL_TIMEOUT,
        ):
            info = ServiceInfo(
                pid=os.getpid(),
                address=client.service_client.config.target_host,
                namespace=client.namespace,
                task_queue=config.task_queue,
                ui_url=server.ui_url if server else None,
                embedded=server is not None,
            )
            lock.write_state(info)
            served = True
            if server is not None:
                say(f"Temporal server on {info.address} (database {server.db_filename})")
                if info.ui_url:
                    say(f"Web UI: {info.ui_url}")
            else:
                say(f"using the configured Temporal server at {info.address}")
            say(
                f"worker polling task queue {config.task_queue!r}; "
                "Ctrl-C or SIGTERM stops the service"
            )
            say(worker_resources())
            status = await _wait(stop, server, say)
            say("stopping (running steps get a few seconds to finish)")
        return status
    finally:
        remove_signal_handlers()
        if server is not None:
            await asyncio.to_thread(server.stop)
        if codec_server is not None:
            codec_server.stop()
        lock.release()
        if served:
            say("stopped")


def _start_codec_server(config: ServiceConfig) -> CodecServer | None:
    """The Web UI's codec endpoint (None without a Web UI)."""
    if config.ui_port is None:
        return None
    return CodecServer([f"http://{host}:{config.ui_port}" for host in (HOST, "localhost")]).start()


async def _start_server(config: ServiceConfig, codec_server: CodecServer | None) -> EmbeddedServer:
    for port, what, key in (
        (config.port, "Temporal", "port"),
        (config.ui_port, "Web UI", "ui_port"),
    ):
        if port is not None and port_open(port):
            raise ServiceError(
                f"{what} port {port} on {HOST} is in use by another program; "
                f"choose another with djset.serve.{key}"
            )
    db_path = config.db_path or config.state_dir / DB_FILE
    db_path.parent.mkdir(parents=True, exist_ok=True)
    extra_args: list[str] = []
    if config.ui_port is not None:
        extra_args = ["--ui-ip", HOST]
    if codec_server is not None:
        extra_args += ["--ui-codec-endpoint", codec_server.url]
    server = EmbeddedServer(
        port=config.port,
        db_filename=str(db_path),
        ui_port=config.ui_port,
        log_path=str(config.state_dir / LOG_FILE),
        extra_args=extra_args,
        umask=PRIVATE_UMASK,
    )
    try:
        # In this (the main) thread: the server gets SIGTERM when the thread that started
        # it dies (server.py), and a pool thread may end before the service does.
        server.start()
    except EmbeddedServerError as exc:
        raise ServiceError(f"embedded Temporal server: {exc}") from None
    return server


async def _wait(stop: asyncio.Event, server: EmbeddedServer | None, say) -> int:
    """Wait for the stop signal; 1 if the embedded server died meanwhile."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
        if server is not None and not server.running:
            say(f"the Temporal server exited; see {server.log_path}")
            return 1
    return 0
