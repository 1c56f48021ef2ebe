"""Running the model server: bind, load, serve until told to stop, then finish in-flight work.

``serve(options, registry)`` is what ``modeldesk serve`` and the standby process call. It
binds the port first (so a port in use fails in milliseconds, exit code 3), loads the model
after its SHA-256 check, then serves with uvicorn on uvloop + httptools. Once listening it
prints ``Ready: <url>  (<name> v<version>)`` and writes the state file the launcher reads.
SIGTERM, SIGINT and a vanished parent process all end in the same graceful shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from desktop_app.errors import AppError

if TYPE_CHECKING:
    from desktop_app.registry.store import Registry
    from desktop_app.serving.app import ServingApp

log = logging.getLogger(__name__)

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PORT = 0, 1, 2, 3
DEFAULT_MAX_BODY_MB = 32.0
PARENT_POLL_S = 0.5
HEADER_TIMEOUT_S = 15.0
BODY_IDLE_TIMEOUT_S = 30.0
KEEP_ALIVE_S = 15.0
GRACEFUL_TIMEOUT_S = 30.0
MAX_CONNECTIONS = 1000


class ServeError(AppError):
    """The server cannot start; ``exit_code`` says why (1 model/registry, 2 usage, 3 port)."""

    code = "SERVE_ERROR"

    def __init__(self, message: str, exit_code: int = EXIT_ERROR, *, code: str | None = None):
        super().__init__(message, code=code)
        self.exit_code = exit_code


@dataclass
class ServeOptions:
    """Everything ``modeldesk serve`` and the standby's JSON line can set."""

    model: str
    ref: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    token: str | None = None
    max_body_mb: float = DEFAULT_MAX_BODY_MB
    record_fraction: float = 0.0
    parent_pid: int | None = None
    state_file: str | None = None
    detach_file: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        """Refuse unsafe or impossible settings before anything starts."""
        if not self.model:
            raise ServeError("No model named to serve.", EXIT_USAGE)
        if not 0 <= self.port <= 65535:
            raise ServeError(f"Port {self.port} is not between 0 and 65535.", EXIT_USAGE)
        if not self.max_body_mb > 0:
            raise ServeError("--max-body-mb must be positive.", EXIT_USAGE)
        if not 0.0 <= self.record_fraction <= 1.0:
            raise ServeError("--record-fraction must be between 0 and 1.", EXIT_USAGE)
        if not is_loopback(self.host) and not self.token:
            raise ServeError(
                f"Binding {self.host} makes the model reachable from other machines; give a "
                "token with --token so that every request must carry it "
                "(or serve on 127.0.0.1).",
                EXIT_USAGE,
            )


def options_from_json(line: str) -> ServeOptions:
    """The standby's configuration line → options (a ServeError for a malformed line)."""
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise ServeError(f"The configuration line is not JSON: {exc}", EXIT_USAGE) from None
    if not isinstance(data, dict) or not isinstance(data.get("model"), str):
        raise ServeError("The configuration line needs a JSON object with 'model'.", EXIT_USAGE)
    ref = data.get("ref")
    try:
        return ServeOptions(
            model=data["model"],
            ref=None if ref in (None, "") else str(ref),
            host=str(data.get("host") or "127.0.0.1"),
            port=int(data.get("port") or 0),
            token=data.get("token") or None,
            max_body_mb=float(data.get("max_body_mb") or DEFAULT_MAX_BODY_MB),
            record_fraction=float(data.get("record_fraction") or 0.0),
            parent_pid=None if data.get("parent_pid") is None else int(data["parent_pid"]),
            state_file=data.get("state_file") or None,
            detach_file=data.get("detach_file") or None,
        )
    except (TypeError, ValueError) as exc:
        raise ServeError(f"The configuration line has a bad value: {exc}", EXIT_USAGE) from None


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound (not yet listening) TCP socket; a ServeError with exit code 3 if impossible."""
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if sys.platform == "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)  # type: ignore[attr-defined]
        else:
            # Rebinding right after a restart must not wait for TIME_WAIT; a live listener
            # on the port still makes bind fail.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(
                f"Port {port} on {host} is already in use by another program; choose another "
                "port with --port, or --port 0 for a free one.",
                EXIT_PORT,
                code="PORT_IN_USE",
            ) from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise ServeError(
                f"Not allowed to listen on port {port} (ports below 1024 need administrator "
                "rights); choose a port above 1024 or --port 0.",
                EXIT_PORT,
                code="PORT_DENIED",
            ) from None
        raise ServeError(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}; check the --host address.",
            EXIT_PORT,
            code="BIND_FAILED",
        ) from None
    sock.setblocking(False)
    return sock


def url_for(host: str, port: int) -> str:
    """The URL a local client uses (a wildcard bind is reached through loopback)."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


# ---- the state file ------------------------------------------------------------------------


class StateFile:
    """The JSON file the launcher reads: written atomically, removed on a clean exit."""

    def __init__(self, path: str | None, document: dict[str, Any]) -> None:
        self.path = Path(path) if path else None
        self.document = document

    def write(self, **changes: Any) -> None:
        """Update fields and replace the file in one step."""
        self.document.update(changes)
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.document, indent=2), encoding="utf-8")
        os.replace(tmp, self.path)

    def remove(self) -> None:
        """Delete the file (the server is gone)."""
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


# ---- the parent watch ----------------------------------------------------------------------


def parent_watch(parent_pid: int, detach_file: str | None) -> Callable[[], bool]:
    """A check that says whether the parent is gone (and the server not detached)."""
    import psutil

    try:
        started = psutil.Process(parent_pid).create_time()
    except psutil.Error:
        started = None

    def gone() -> bool:
        if detach_file and os.path.exists(detach_file):
            return False
        if started is None:
            return True
        try:
            process = psutil.Process(parent_pid)
            # A reused PID has another start time; a killed parent not yet reaped is a zombie.
            return process.create_time() != started or process.status() == psutil.STATUS_ZOMBIE
        except psutil.Error:
            return True

    return gone


# ---- uvicorn with read timeouts and our own signal handling --------------------------------


def _protocol_class() -> type:
    """httptools' protocol with header and body read timeouts (slow clients are cut off)."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        """Closes a connection that takes too long to send its headers or its body."""

        _read_timer: asyncio.TimerHandle | None = None

        def _arm(self, seconds: float) -> None:
            if self._read_timer is not None:
                self._read_timer.cancel()
            self._read_timer = self.loop.call_later(seconds, self._read_timed_out)

        def _disarm(self) -> None:
            if self._read_timer is not None:
                self._read_timer.cancel()
                self._read_timer = None

        def _read_timed_out(self) -> None:
            self._read_timer = None
            if self.transport.is_closing():
                return
            if self.cycle is None or not self.cycle.response_started:
                body = b'{"error":"request not received in time"}'
                self.transport.write(
                    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                    b"connection: close\r\ncontent-length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
            self.transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm(HEADER_TIMEOUT_S)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm(HEADER_TIMEOUT_S)

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            self._arm(BODY_IDLE_TIMEOUT_S)

        def on_body(self, body: bytes) -> None:
            super().on_body(body)
            self._arm(BODY_IDLE_TIMEOUT_S)

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return GuardedHttpToolsProtocol


def _server_class() -> type:
    import uvicorn

    class ModelServer(uvicorn.Server):
        """uvicorn's server, exiting 0 after a signal instead of re-raising it."""

        on_stopping: Callable[[], None] = staticmethod(lambda: None)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            signals = [signal.SIGINT, signal.SIGTERM]
            if sys.platform == "win32":
                signals.append(signal.SIGBREAK)  # type: ignore[attr-defined]
            original = {sig: signal.signal(sig, self.handle_exit) for sig in signals}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

        async def shutdown(self, sockets: Any = None) -> None:
            self.on_stopping()
            await super().shutdown(sockets=sockets)

    return ModelServer


# ---- serve -----------------------------------------------------------------------------------


# What loading any scikit-learn model needs; skops imports an estimator's own module on load.
CORE_MODULES = ("numpy", "sklearn", "sklearn.base", "sklearn.pipeline", "skops.io")


def import_serving_stack(modules: tuple[str, ...]) -> None:
    """Import scikit-learn without pandas; pandas is imported later only if the model needs it.

    scikit-learn imports pandas (and pyarrow) at start-up merely because it is installed,
    ~60 MB resident that a model fed plain matrices never uses. Marking pandas absent while
    scikit-learn loads avoids that. The mark is removed right after the imports: scikit-learn
    looks DataFrames up lazily, and would fail on a marked-absent pandas at predict time.
    """
    import importlib

    deferred = "pandas" not in sys.modules
    if deferred:
        sys.modules["pandas"] = None  # type: ignore[assignment]
    try:
        for name in modules:
            try:
                importlib.import_module(name)
            except ImportError:
                continue
    finally:
        if deferred and sys.modules.get("pandas", False) is None:
            del sys.modules["pandas"]


def build_app(registry: Registry, options: ServeOptions) -> ServingApp:
    """Load the model (hash checked) and build the ASGI app around it."""
    from desktop_app.serving.app import ServingApp
    from desktop_app.serving.model import (
        ModelLoadError,
        check_model_file,
        load_served_model,
        prepare_inference,
    )
    from desktop_app.serving.recording import InputRecorder

    try:
        # A wrong name or a tampered file is reported before seconds of scikit-learn imports.
        check_model_file(registry, options.model, options.ref)
        import_serving_stack(CORE_MODULES)
        model = load_served_model(registry, options.model, options.ref)
    except ModelLoadError as exc:
        raise ServeError(exc.message, EXIT_ERROR, code=exc.code) from None
    if model.needs_frame:
        import pandas  # noqa: F401  (now, not on the first request)
    prepare_inference()
    recorder = InputRecorder(registry, model, options.record_fraction)
    return ServingApp(
        model,
        max_body_bytes=int(options.max_body_mb * 1024 * 1024),
        token=options.token,
        recorder=recorder,
    )


def serve(
    registry: Registry,
    options: ServeOptions,
    *,
    out: IO[str] | None = None,
    started: float | None = None,
) -> int:
    """Serve until stopped; return the exit code (ServeError for failures before ready)."""
    import uvicorn

    options.check()
    out = out or sys.stdout
    sock = bind_socket(options.host, options.port)
    try:
        app = build_app(registry, options)
        port = sock.getsockname()[1]
        url = url_for(options.host, port)
        model = app.model
        state = StateFile(
            options.state_file,
            {
                "pid": os.getpid(),
                "port": port,
                "host": options.host,
                "url": url,
                "model": model.name,
                "version": model.version,
                "alias": model.alias,
                "started_at": time.time(),
                "state": "starting",
                "token_required": bool(options.token),
            },
        )
        config = uvicorn.Config(
            app,
            http=_protocol_class(),
            loop="none",
            lifespan="off",
            access_log=False,
            log_level="warning",
            server_header=False,
            timeout_keep_alive=int(KEEP_ALIVE_S),
            timeout_graceful_shutdown=int(GRACEFUL_TIMEOUT_S),
            limit_concurrency=MAX_CONNECTIONS,
            backlog=1024,
        )
        server = _server_class()(config)
        server.on_stopping = lambda: _stopping(state)
        sock.listen(1024)

        async def main() -> None:
            watch = asyncio.create_task(_watch(server, options, state, url, model, out))
            try:
                await server.serve(sockets=[sock])
            finally:
                watch.cancel()

        with _runner() as runner:
            runner.run(main())
        if app.recorder is not None:
            app.recorder.close()
        app.executor.shutdown(wait=True)
        state.remove()
        return EXIT_OK
    finally:
        sock.close()


def _stopping(state: StateFile) -> None:
    with contextlib.suppress(OSError):
        state.write(state="stopping", stopping_at=time.time())


async def _watch(
    server: Any, options: ServeOptions, state: StateFile, url: str, model: Any, out: IO[str]
) -> None:
    """Announce readiness once listening, then watch the parent process."""
    while not server.started:
        if server.should_exit:
            return
        await asyncio.sleep(0.005)
    state.write(state="ready", ready_at=time.time())
    print(f"Ready: {url}  ({model.name} v{model.version})", file=out, flush=True)
    if options.parent_pid is None:
        return
    gone = parent_watch(options.parent_pid, options.detach_file)
    while not server.should_exit:
        await asyncio.sleep(PARENT_POLL_S)
        if gone():
            log.warning("parent process %s is gone: shutting down", options.parent_pid)
            server.should_exit = True


@contextlib.contextmanager
def _runner() -> Iterator[asyncio.Runner]:
    """An asyncio runner on uvloop where available (about twice the requests per second)."""
    factory = None
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        pass
    with asyncio.Runner(loop_factory=factory) as runner:
        yield runner


def configure_logging() -> None:
    """Warnings and errors on stderr, one line each (the panel shows the tail)."""
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
