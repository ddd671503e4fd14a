"""A codec server for the Web UI: shows gzip-compressed payloads (codec.py) decoded.

Large inputs and results are stored as ``binary/gzip`` payloads, which the Web UI shows
as encoded data. Temporal's Web UI can send payloads to a "remote codec endpoint"
(`temporal server start-dev --ui-codec-endpoint URL`): ``POST URL/decode`` (and
``/encode``) with ``{"payloads": [...]}``, each payload in protobuf JSON (metadata
values and data base64), answered in the same shape. The browser calls it across
origins, so it answers CORS preflights for the UI's origin.

Loopback only, like the UI: it binds 127.0.0.1, answers only requests whose Host is its
own loopback address (a web page on another site reaching it by DNS rebinding is
refused) and whose Origin, if any, is the UI's. Request bodies are size-limited, and so
is what a payload may decompress to (codec.MAX_DECODED_BYTES).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload

from djcurator_core.pipeline.codec import GzipPayloadCodec
from djcurator_core.pipeline.payload_store import default_store
from djcurator_core.pipeline.server.dev_server import HOST, free_port

MAX_REQUEST_BYTES = 8 * 1024 * 1024  # a page of payloads; the server's blob limit is 2 MiB
_ALLOWED_HEADERS = "Content-Type, X-Namespace, Authorization"


class CodecServer:
    """The codec endpoint on 127.0.0.1:`port` (a free one by default), in a thread.

    `ui_origins`: the origins the Web UI is served from (http://127.0.0.1:PORT)."""

    def __init__(self, ui_origins: Iterable[str], port: int | None = None) -> None:
        self.port = port or free_port()
        self.ui_origins = frozenset(ui_origins)
        self._codec = GzipPayloadCodec(store=default_store())
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> CodecServer:
        handler = type("Handler", (_Handler,), {"codec_server": self})
        self._server = ThreadingHTTPServer((HOST, self.port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="djset-codec-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> CodecServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def convert(self, action: str, body: bytes) -> bytes:
        """The /decode or /encode answer for a request body (ValueError if malformed)."""
        document = json.loads(body)
        items = document.get("payloads") if isinstance(document, dict) else None
        if not isinstance(items, list):
            raise ValueError('expected {"payloads": [...]}')
        payloads = [json_format.ParseDict(item, Payload()) for item in items]
        if action == "decode":
            converted = [self._codec.decode_one(payload) for payload in payloads]
        else:
            converted = [self._codec.encode_one(payload) for payload in payloads]
        answer = {"payloads": [json_format.MessageToDict(p) for p in converted]}
        return json.dumps(answer).encode()


class _Handler(BaseHTTPRequestHandler):
    codec_server: CodecServer
    server_version = "djset-codec"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        pass  # no access log on the service's terminal

    def _allowed(self) -> bool:
        server = self.codec_server
        hosts = {f"{HOST}:{server.port}", f"localhost:{server.port}"}
        origin = self.headers.get("Origin")
        return self.headers.get("Host") in hosts and (origin is None or origin in server.ui_origins)

    def _reply(self, status: HTTPStatus, body: bytes = b"") -> None:
        self.send_response(status)
        origin = self.headers.get("Origin")
        if origin in self.codec_server.ui_origins and self._allowed():
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Access-Control-Allow-Credentials", "true")
            self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
            self.send_header("Access-Control-Allow-Headers", _ALLOWED_HEADERS)
            self.send_header("Vary", "Origin")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_OPTIONS(self) -> None:  # noqa: N802 (http.server's naming)
        self._reply(HTTPStatus.NO_CONTENT if self._allowed() else HTTPStatus.FORBIDDEN)

    def do_POST(self) -> None:  # noqa: N802
        if not self._allowed():
            self._reply(HTTPStatus.FORBIDDEN, b'{"error": "loopback UI only"}')
            return
        action = self.path.rstrip("/").rsplit("/", 1)[-1]
        if action not in ("decode", "encode"):
            self._reply(HTTPStatus.NOT_FOUND, b'{"error": "POST /decode or /encode"}')
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST_BYTES:
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b'{"error": "body too large"}')
            return
        try:
            answer = self.codec_server.convert(action, self.rfile.read(length))
        except (ValueError, json_format.ParseError) as exc:
            message = json.dumps({"error": str(exc).splitlines()[0] if str(exc) else "bad"})
            self._reply(HTTPStatus.BAD_REQUEST, message.encode())
            return
        self._reply(HTTPStatus.OK, answer)
