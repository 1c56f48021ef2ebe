"""The ASGI application: routing, body limits, the bearer token, errors, metrics.

A raw ASGI callable, no framework: a request costs one dict lookup to route and two ``send``
calls. Protocol work lives in ``v2`` and ``mlflow_protocol`` as plain functions; small requests
run inline on the event loop (a thread hop costs more than a one-row predict), large ones in a
single worker thread so that health checks stay answered meanwhile.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote

import orjson

from desktop_app import __version__
from desktop_app.serving import mlflow_protocol, v2
from desktop_app.serving.errors import RequestError
from desktop_app.serving.model import ServedModel, prepare_inference
from desktop_app.serving.recording import InputRecorder
from desktop_app.serving.stats import ServerStats

log = logging.getLogger(__name__)

JSON = b"application/json"
Headers = list[tuple[bytes, bytes]]
Result = tuple[int, Headers, bytes]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

# Bodies above this many bytes are decoded and predicted in the worker thread.
INLINE_BODY_LIMIT = 256 * 1024
_RECORDING_HINT = 'send a JSON object {"enabled": true|false, "fraction": 0..1}'


class _BodyTooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


class ServingApp:
    """One model on one port: the V2 and MLflow routes plus docs, metrics and stats."""

    def __init__(
        self,
        model: ServedModel,
        *,
        max_body_bytes: int,
        token: str | None = None,
        recorder: InputRecorder | None = None,
        stats: ServerStats | None = None,
    ) -> None:
        self.model = model
        self.max_body = max_body_bytes
        self.token = None if not token else f"Bearer {token}".encode()
        self.recorder = recorder
        self.stats = stats or ServerStats(model.name, model.version)
        self.executor = ThreadPoolExecutor(1, "inference", initializer=prepare_inference)
        self.ready = True
        self._metadata = orjson.dumps(v2.model_metadata(model))
        self._server_metadata = orjson.dumps(v2.server_metadata())
        self._model_ready = orjson.dumps({"name": model.name, "ready": True})
        self._routes: dict[str, tuple[str, dict[str, Callable[..., Any]]]] = {
            "/v2/health/live": ("/v2/health/live", {"GET": self._live}),
            "/v2/health/ready": ("/v2/health/ready", {"GET": self._ready}),
            "/v2": ("/v2", {"GET": self._server_meta}),
            "/v2/": ("/v2", {"GET": self._server_meta}),
            "/ping": ("/ping", {"GET": self._ping}),
            "/health": ("/health", {"GET": self._ping}),
            "/version": ("/version", {"GET": self._version}),
            "/invocations": ("/invocations", {"POST": self._invocations}),
            "/openapi.json": ("/openapi.json", {"GET": self._openapi}),
            "/docs": ("/docs", {"GET": self._docs}),
            "/metrics": ("/metrics", {"GET": self._metrics}),
            "/modeldesk/stats": ("/modeldesk/stats", {"GET": self._stats}),
            "/modeldesk/recording": (
                "/modeldesk/recording",
                {"GET": self._recording, "PUT": self._recording},
            ),
        }
        self._model_route_cache: dict[bytes, tuple[str, dict[str, Callable[..., Any]]]] = {}
        self._model_routes: dict[str, tuple[str, dict[str, Callable[..., Any]]]] = {
            "": ("/v2/models/{name}", {"GET": self._model_meta}),
            "ready": ("/v2/models/{name}/ready", {"GET": self._model_ready_route}),
            "infer": ("/v2/models/{name}/infer", {"POST": self._infer}),
        }

    # ---- the ASGI entry point ----------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """Answer one request."""
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await _lifespan(receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]
        method: str = scope["method"]
        is_v2 = path == "/v2" or path.startswith("/v2/")
        route, handlers = self._route(scope, path, is_v2)
        prediction = route in ("/invocations", "/v2/models/{name}/infer")
        rows = 0
        try:
            if self.token is not None and not self._authorised(scope["headers"]):
                raise RequestError(401, "this server needs 'Authorization: Bearer <token>'")
            if handlers is None:
                raise RequestError(404, f"no such endpoint: {path}")
            handler = handlers.get("GET" if method == "HEAD" else method)
            if handler is None:
                allowed = ", ".join(sorted(handlers))
                raise RequestError(405, f"{method} is not allowed here; use {allowed}")
            result, rows = await handler(scope, receive)
        except RequestError as exc:
            result = self._error(is_v2, exc.status, exc.message)
        except _BodyTooLarge:
            result = self._error(
                is_v2, 413, f"the request body is larger than the limit of {self.max_body} bytes"
            )
        except _Disconnected:
            return
        except Exception as exc:
            log.exception("internal error on %s %s", method, path)
            result = self._error(is_v2, 500, f"internal error: {type(exc).__name__}: {exc}")
        status, headers, body = result
        headers.append((b"content-length", str(len(body)).encode()))
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        self.stats.observe(
            route,
            method,
            status,
            time.perf_counter() - started,
            prediction=prediction,
            rows=rows,
        )

    def _route(
        self, scope: dict[str, Any], path: str, is_v2: bool
    ) -> tuple[str, dict[str, Callable[..., Any]] | None]:
        found = self._routes.get(path)
        if found is not None:
            return found
        raw_key = scope.get("raw_path") or path.encode()
        found = self._model_route_cache.get(raw_key)
        if found is not None:
            return found
        if is_v2 and path.startswith("/v2/models/"):
            # The served name is matched as a prefix of the decoded path, so a name holding
            # '/' works whether a client percent-encodes it (%2F) or not (tritonclient).
            name = self.model.name
            raw = scope.get("raw_path") or path.encode()
            decoded = unquote(raw.decode("latin-1"))[len("/v2/models/") :]
            if decoded != name and not decoded.startswith(name + "/"):
                asked = decoded.split("/", 1)[0]
                return "other", _Missing(
                    f"model {asked!r} is not served here (this server serves {name!r})"
                )
            rest = [p for p in decoded[len(name) :].split("/") if p]
            if len(rest) >= 2 and rest[0] == "versions":
                if rest[1] != self.model.version:
                    message = (
                        f"model {self.model.name!r} has no version {rest[1]!r} here "
                        f"(serving version {self.model.version})"
                    )
                    return "other", _Missing(message)
                rest = rest[2:]
            key = "/".join(rest)
            if key in self._model_routes:
                # Only this model's few valid paths are cached, so the cache stays tiny.
                self._model_route_cache[raw_key] = self._model_routes[key]
                return self._model_routes[key]
        return "other", None

    def _authorised(self, headers: list[tuple[bytes, bytes]]) -> bool:
        for name, value in headers:
            if name == b"authorization":
                return hmac.compare_digest(value, self.token or b"")
        return False

    def _error(self, is_v2: bool, status: int, message: str) -> Result:
        if is_v2:
            body = v2.error_body(message)
        else:
            code = {
                404: "ENDPOINT_NOT_FOUND",
                401: "UNAUTHENTICATED",
                405: "METHOD_NOT_ALLOWED",
            }.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")
            body = mlflow_protocol.error_body(message, code)
        return status, [(b"content-type", JSON)], body

    # ---- request bodies ----------------------------------------------------------------------

    async def _body(self, scope: dict[str, Any], receive: Receive) -> bytes:
        """The whole body, refused (without reading it) when it is over the limit."""
        encoding = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    raise RequestError(400, "Content-Length is not a number") from None
                # Answering before reading is safe: the server discards the rest of the body
                # and the connection stays usable, so the client reads this 413 intact.
                if declared > self.max_body:
                    raise _BodyTooLarge
            elif name == b"content-encoding":
                encoding = value.lower().strip()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > self.max_body:
                    raise _BodyTooLarge
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if encoding and encoding != b"identity":
            body = self._decompress(body, encoding)
        return body

    def _decompress(self, body: bytes, encoding: bytes) -> bytes:
        if encoding == b"gzip":
            wbits = 16 + zlib.MAX_WBITS
        elif encoding == b"deflate":
            wbits = zlib.MAX_WBITS
        else:
            raise RequestError(
                415, f"Content-Encoding {encoding.decode('latin-1')!r} is not supported"
            )
        inflater = zlib.decompressobj(wbits)
        try:
            out = inflater.decompress(body, self.max_body + 1)
        except zlib.error as exc:
            raise RequestError(400, f"the compressed body is damaged: {exc}") from None
        if len(out) > self.max_body or inflater.unconsumed_tail:
            raise _BodyTooLarge
        return out

    async def _run(self, body: bytes, work: Callable[[], Any]) -> Any:
        if len(body) <= INLINE_BODY_LIMIT:
            return work()
        return await asyncio.get_running_loop().run_in_executor(self.executor, work)

    # ---- V2 ----------------------------------------------------------------------------------

    async def _live(self, scope: dict[str, Any], receive: Receive) -> tuple[Result, int]:
        return (200, [(b"content-type", JSON)], b'{"live":true}'), 0

    async def _ready(self, scope: dict[str, Any], receive: Receive) -> tuple[Result, int]:
        if not self.ready:
            raise RequestError(400, "the model is not loaded yet")
        return (200, [(b"content-type", JSON)], b'{"ready":true}'), 0

    async def _server_meta(self, scope: dict[str, Any], receive: Receive) -> tuple[Result, int]:
        return (200, [(b"content-type", JSON)], self._server_metadata), 0

    async def _model_meta(self, scope: dict[str, Any], receive: Receive) -> tuple[Result, int]:
        return (200, [(b"content-type", JSON)], self._metadata), 0

    async def _model_ready_route(
        self, scope: dict[str, Any], receive: Receive
    ) -> tuple[Result, int]:
        return (200, [(b"content-type", JSON)], self._model_ready), 0

    async def _infer(self, scope: dict[str, Any], receive: Receive) -> tuple[Result, int]:
        body = await self._body(scope, receive)
        header_length = None
        for name, value in scope["headers"]:
            if name == v2.HEADER_LENGTH:
                header_length = value
                break
        model = self.model

        def work() -> tuple[Result, Any]:
            request, (status, headers, payload) = v2.infer(model, body, header_length)
            return (status, headers, payload), request.model_input

        result, model_input = await self._run(body, work)
        if self.recorder is not None:
            self.recorder.offer("v2", model_input)
        return result, len(model_input)

    # ---- MLflow ------------------------------------------------------------------------------

    async def _ping(self, scope: dict[str, Any], receive: Receive) -> tuple[Result, int]:
        if not self.ready:
            raise RequestError(503, "the model is not loaded yet")
        return (200, [(b"content-type", JSON)], b"\n"), 0

    async def _version(self, scope: dict[str, Any], receive: Receive) -> tuple[Result, int]:
        return (200, [(b"content-type", b"text/plain; charset=utf-8")], __version__.encode()), 0

    async def _invocations(self, scope: dict[str, Any], receive: Receive) -> tuple[Result, int]:
        content_type = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
                break
        # Check the media type before reading the body: a 415 needs no body.
        mlflow_protocol.media_type(content_type)
        body = await self._body(scope, receive)
        model = self.model

        def work() -> tuple[bytes, Any]:
            model_input = mlflow_protocol.decode(model, content_type, body)
            predictions = model.predict(model_input)
            return mlflow_protocol.encode_predictions(predictions), model_input

        payload, model_input = await self._run(body, work)
        if self.recorder is not None:
            self.recorder.offer("mlflow", model_input)
        return (200, [(b"content-type", JSON)], payload), len(model_input)

    # ---- documentation, metrics, the panel's endpoints ---------------------------------------

    async def _openapi(self, scope: dict[str, Any], receive: Receive) -> tuple[Result, int]:
        from desktop_app.serving.openapi import openapi_document

        return (200, [(b"content-type", JSON)], orjson.dumps(openapi_document(self.model))), 0

    async def _docs(self, scope: dict[str, Any], receive: Receive) -> tuple[Result, int]:
        from desktop_app.serving.openapi import docs_page

        return (200, [(b"content-type", b"text/html; charset=utf-8")], docs_page()), 0

    async def _metrics(self, scope: dict[str, Any], receive: Receive) -> tuple[Result, int]:
        content_type = b"text/plain; version=0.0.4; charset=utf-8"
        return (200, [(b"content-type", content_type)], self.stats.prometheus_text()), 0

    async def _stats(self, scope: dict[str, Any], receive: Receive) -> tuple[Result, int]:
        summary = self.stats.summary()
        summary["recording"] = None if self.recorder is None else self.recorder.state()
        return (200, [(b"content-type", JSON)], orjson.dumps(summary)), 0

    async def _recording(self, scope: dict[str, Any], receive: Receive) -> tuple[Result, int]:
        if self.recorder is None:
            raise RequestError(404, "recording is not available on this server")
        if scope["method"] == "PUT":
            body = await self._body(scope, receive)
            try:
                document = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise RequestError(400, 'send JSON {"enabled": bool, "fraction": float}') from None
            if not isinstance(document, dict):
                raise RequestError(400, 'send a JSON object {"enabled": bool, "fraction": float}')
            enabled = document.get("enabled", True)
            fraction = document.get("fraction", self.recorder.fraction or 0.1)
            if not isinstance(enabled, bool):
                raise RequestError(400, "'enabled' must be true or false")
            if isinstance(fraction, bool) or not isinstance(fraction, int | float):
                raise RequestError(400, "'fraction' must be a number between 0 and 1")
            if not 0.0 <= fraction <= 1.0:
                raise RequestError(400, "'fraction' must be between 0 and 1")
            self.recorder.set_fraction(fraction if enabled else 0.0)
        return (200, [(b"content-type", JSON)], orjson.dumps(self.recorder.state())), 0


class _Missing(dict[str, Callable[..., Any]]):
    """The handlers of a path naming another model or version: a 404 whatever the method."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def get(self, key: str, default: Any = None) -> Any:
        """Every method gets the same 404."""
        message = self.message

        async def handler(scope: dict[str, Any], receive: Receive) -> tuple[Result, int]:
            raise RequestError(404, message)

        return handler


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
