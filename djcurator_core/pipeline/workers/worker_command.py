"""`djset-worker`: run a DJSetWorkflow worker.

`djset-worker [--task-queue djset] [--address HOST:PORT]`; from a clone, `python
worker.py` runs the same.

The connection comes from Temporal's standard configuration (TEMPORAL_ADDRESS,
TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_PROFILE and temporal.toml
profiles); flags override it; localhost:7233 when nothing is set. Stops cleanly on
SIGINT/SIGTERM: no new tasks, the running steps get --graceful-timeout seconds to finish
and report (then they are cancelled and retried elsewhere), exit 0; a second signal exits
at once (status 1) and the server retries the interrupted step on another worker.
Run as many as you like on the same queue.

What the worker may touch is its own decision, never a request's (docs/hardening.md):
it writes playlists only inside --playlist-dir folders, opens only the beets libraries
given with --library (a database file or a folder of them) and reads tracks files only
inside --tracks-dir folders, and writes sets into the Mixxx databases given with
--mixxx-database (format mixxx); each may be given several times, and none is allowed by
default (sets with inline tracks and no playlist need none).

The worker owns its process, so it may set beets up: its first library step reads
beets' configuration (BEETSDIR, as `beet` does) and loads beets' plugins
(beets_library.configure_beets_on_first_use).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from datetime import timedelta

from djcurator_core.pipeline.beets_library import configure_beets_on_first_use
from djcurator_core.pipeline.contracts import DEFAULT_TASK_QUEUE
from djcurator_core.pipeline.payload_store import STORE_ENV
from djcurator_core.pipeline.sets.client import (
    ClientError,
    ConnectionSettings,
    check_namespace,
    connect,
    one_line,
)
from djcurator_core.pipeline.workers.memory_gate import (
    MEMORY_ENV,
    MEMORY_SHARE,
    MemorySizeError,
    parse_size,
)
from djcurator_core.pipeline.workers.worker import (
    MAX_CONCURRENT_ACTIVITIES,
    STICKY_TIMEOUT,
    run_worker,
    worker_resources,
)
from djcurator_core.pipeline.workers.worker_scope import WorkerScope
from djcurator_core.process import exit_now, stop_on_signals


def _memory_size(text: str) -> int:
    try:
        return parse_size(text)
    except MemorySizeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="djset-worker", description=__doc__.split("\n")[0])
    parser.add_argument("--task-queue", default=DEFAULT_TASK_QUEUE, help="default: %(default)s")
    parser.add_argument("--address", help="server HOST:PORT (default: config, else localhost:7233)")
    parser.add_argument("--namespace", help="namespace (default: config, else default)")
    parser.add_argument("--api-key", help="API key (Temporal Cloud); implies TLS")
    parser.add_argument("--tls", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--profile", help="profile in temporal.toml (default: TEMPORAL_PROFILE)")
    parser.add_argument("--config-file", help="temporal.toml to read profiles from")
    parser.add_argument("--max-concurrent-activities", type=int, default=MAX_CONCURRENT_ACTIVITIES)
    parser.add_argument(
        "--playlist-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder this worker may write playlists in (repeatable)",
    )
    parser.add_argument(
        "--library",
        action="append",
        default=[],
        metavar="DB",
        help="a beets library database (or a folder of them) this worker may open (repeatable)",
    )
    parser.add_argument(
        "--tracks-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder this worker may read tracks files from (repeatable)",
    )
    parser.add_argument(
        "--mixxx-database",
        action="append",
        default=[],
        metavar="DB",
        help="a Mixxx database (mixxxdb.sqlite) this worker may write sets into (repeatable)",
    )
    parser.add_argument(
        "--memory-limit",
        type=_memory_size,
        help="memory the heavy steps (ordering, justifying) may hold at once, e.g. 4G; a step "
        f"that does not fit waits (default: ${MEMORY_ENV}, else "
        f"{MEMORY_SHARE * 100:.0f}%% of this machine's memory)",
    )
    parser.add_argument(
        "--payload-store",
        metavar="DIR",
        help=f"folder of large payloads passed by reference (default: ${STORE_ENV}, else the "
        "user cache); workers on several machines need one shared folder (docs/scale.md)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="of the SDK's and the activities' log (default: %(default)s)",
    )
    parser.add_argument(
        "--graceful-timeout",
        type=float,
        default=30.0,
        help="seconds running steps may take to finish after SIGINT/SIGTERM before they are "
        "cancelled and retried elsewhere (default: %(default)s)",
    )
    parser.add_argument(
        "--sticky-timeout",
        type=float,
        default=STICKY_TIMEOUT.total_seconds(),
        help="seconds a workflow task waits for this worker before any worker may take it",
    )
    return parser


def scope_from(args: argparse.Namespace) -> WorkerScope:
    """The worker's scope from its flags (absolute paths, so the cwd does not matter)."""

    def absolute(paths: list[str]) -> tuple[str, ...]:
        return tuple(os.path.abspath(os.path.expanduser(path)) for path in paths)

    return WorkerScope(
        playlist_dirs=absolute(args.playlist_dir),
        libraries=absolute(args.library),
        tracks_dirs=absolute(args.tracks_dir),
        mixxx_databases=absolute(args.mixxx_database),
    )


async def serve(args: argparse.Namespace) -> int:
    if args.payload_store:  # read by every data converter of this process
        os.environ[STORE_ENV] = os.path.abspath(os.path.expanduser(args.payload_store))
    settings = ConnectionSettings(
        address=args.address,
        namespace=args.namespace,
        api_key=args.api_key,
        tls=args.tls,
        profile=args.profile,
        config_file=args.config_file,
    )
    try:
        client = await connect(settings)
        await check_namespace(client)
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stop = asyncio.Event()

    def on_second_signal() -> None:  # Temporal retries the interrupted step elsewhere
        print(f"worker {os.getpid()} killed by a second signal", file=sys.stderr, flush=True)

    stop_on_signals(stop, on_second_signal)
    try:
        async with run_worker(
            client,
            args.task_queue,
            scope=scope_from(args),
            max_concurrent_activities=args.max_concurrent_activities,
            memory_limit=args.memory_limit,
            say=lambda message: print(f"worker {os.getpid()}: {message}", flush=True),
            sticky_timeout=timedelta(seconds=args.sticky_timeout),
            graceful_shutdown_timeout=timedelta(seconds=args.graceful_timeout),
        ):
            target = client.service_client.config.target_host
            print(
                f"worker {os.getpid()} polling task queue {args.task_queue!r} on {target} "
                f"(namespace {client.namespace}); Ctrl-C stops it",
                flush=True,
            )
            print(f"worker {os.getpid()}: {worker_resources()}", flush=True)
            await stop.wait()
            print(f"worker {os.getpid()} stopping (after the running steps)", flush=True)
    except RuntimeError as exc:  # the SDK's worker failed (validation, lost server...)
        print(f"error: worker failed: {one_line(str(exc))[:300]}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    configure_beets_on_first_use()  # this process is only a worker: beets is ours to set up
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    exit_now(asyncio.run(serve(args)))


if __name__ == "__main__":
    main()
