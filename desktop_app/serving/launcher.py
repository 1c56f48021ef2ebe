"""Start, watch and stop model servers: one process per served model, in the background.

``ServerManager`` is what the Serving panel (and any other front end) drives: ``start`` spawns a
server (handing the request to a warm standby process when one is ready, since importing
scikit-learn alone takes seconds), ``poll`` follows each server from *starting* to *ready* —
only once its health endpoint answers — and notices when one fails or stops, ``stop`` ends it
gracefully. Each server's output goes to a log file beside its state file in the registry's
``servers/`` folder, so servers left running on purpose are found again by the next session.
Plain Python, no Qt: the GUI polls it from a thread.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from desktop_app.errors import AppError, ConflictError, InvalidValueError, NotFoundError
from desktop_app.registry import Registry
from desktop_app.serving.http_call import NO_ANSWER, call

SERVERS_DIR = "servers"
LOOPBACK = "127.0.0.1"
PORT_IN_USE_EXIT = 3
_PROBE_TIMEOUT_S = 0.5
_STOP_GRACE_S = 10.0
_LOG_TAIL_BYTES = 64 * 1024
_MAX_SPARE_FAILURES = 3


class ServerState(enum.StrEnum):
    """Where a server is in its life."""

    STARTING = "starting"
    READY = "ready"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"

    @property
    def is_live(self) -> bool:
        """Whether the server process is (meant to be) running."""
        return self in (ServerState.STARTING, ServerState.READY, ServerState.STOPPING)


@dataclass(frozen=True)
class ServeRequest:
    """What to serve and how: ``ref`` is a version number, ``@alias``, or None for the latest."""

    model: str
    ref: str | None = None
    host: str = LOOPBACK
    port: int = 0
    token: str | None = None
    max_body_mb: int = 32
    record_fraction: float = 0.0

    @property
    def alias(self) -> str | None:
        """The alias served (the server follows it when it moves), if any."""
        return self.ref[1:] if self.ref and self.ref.startswith("@") else None

    def label(self) -> str:
        """``name@alias``, ``name:3`` or ``name``, as the command line writes it."""
        if not self.ref:
            return self.model
        return f"{self.model}{self.ref}" if self.ref.startswith("@") else f"{self.model}:{self.ref}"


@dataclass
class ServerInfo:
    """One server as the manager knows it (a snapshot is handed out by ``servers()``)."""

    id: str
    request: ServeRequest
    state: ServerState = ServerState.STARTING
    reason: str = ""
    pid: int | None = None
    port: int | None = None
    version: str | None = None
    started_at: float = field(default_factory=time.time)
    ready_at: float | None = None
    adopted: bool = False  # found running from an earlier session

    @property
    def url(self) -> str:
        """The base URL clients use (empty until the port is known)."""
        if self.port is None:
            return ""
        host = self.request.host
        shown = LOOPBACK if host in ("0.0.0.0", "") else host
        if ":" in shown and not shown.startswith("["):
            shown = f"[{shown}]"
        return f"http://{shown}:{self.port}"

    def uptime(self, now: float | None = None) -> float:
        """Seconds since the server became ready (0 when not ready)."""
        if self.ready_at is None or self.state != ServerState.READY:
            return 0.0
        return max(0.0, (now or time.time()) - self.ready_at)


@dataclass
class _Process:
    info: ServerInfo
    process: subprocess.Popen[bytes] | None  # None for a server adopted from another session
    log: IO[bytes] | None = None


def servers_folder(registry: Registry) -> Path:
    """Where servers keep their state files and logs."""
    folder = Path(registry.root) / SERVERS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this computer only."""
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_request(request: ServeRequest) -> ServeRequest:
    """Refuse what cannot work before a process is started; return the request to use.

    Binding an address other than loopback needs a token: one is made when none is given.
    """
    if not request.model.strip():
        raise InvalidValueError("Choose a model to serve.")
    if not 0 <= request.port <= 65535:
        raise InvalidValueError(f"Port {request.port} is not a port number (1–65535, 0: free).")
    if not is_loopback(request.host) and not request.token:
        request = replace(request, token=secrets.token_urlsafe(24))
    if request.port and not port_is_free(request.host, request.port):
        raise ConflictError(
            f"Port {request.port} is already in use on {request.host}. Choose another port, "
            "or leave it at 0 for a free one."
        )
    return request


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def serve_command(registry_root: Path, request: ServeRequest, extra: list[str]) -> list[str]:
    """The argv of a foreground server process (the frozen app runs its own executable)."""
    argv = ["--registry", str(registry_root), "serve", request.label()]
    argv += ["--host", request.host, "--port", str(request.port)]
    argv += ["--max-body-mb", str(request.max_body_mb)]
    if request.token:
        argv += ["--token", request.token]
    if request.record_fraction:
        argv += ["--record-fraction", str(request.record_fraction)]
    return [*_executable(), *argv, *extra]


def standby_command(registry_root: Path) -> list[str]:
    """The argv of a standby server that imports first and reads its request from stdin."""
    return [*_executable(), "--registry", str(registry_root), "serve-standby"]


def _executable() -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "desktop_app"]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def _session_options() -> dict[str, Any]:
    if os.name == "nt":
        return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)}
    return {"start_new_session": True}


class ServerManager:
    """The servers this session started or found; every method may be called from any thread."""

    def __init__(self, registry: Registry, *, warm_spare: bool = False) -> None:
        self.registry = registry
        self.folder = servers_folder(registry)
        self.warm_spare = warm_spare
        self._servers: dict[str, _Process] = {}
        self._spare: _Process | None = None
        self._spare_failures = 0
        self._lock = threading.RLock()

    # ---- starting ---------------------------------------------------------------------------

    def start(self, request: ServeRequest) -> ServerInfo:
        """Start serving; the server is STARTING until its health check answers."""
        request = check_request(request)
        self._check_model(request)
        with self._lock:
            spare = self._take_spare(request)
            if spare is not None:
                return replace(spare.info)
            server_id = uuid.uuid4().hex[:10]
            log = open(self._log_path(server_id), "wb")  # noqa: SIM115 (lives with the server)
            try:
                process = subprocess.Popen(
                    serve_command(self.registry.root, request, self._lifecycle_args(server_id)),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=_environment(),
                    **_session_options(),
                )
            except OSError as exc:
                log.close()
                raise AppError(f"The server process could not be started: {exc}") from exc
            info = ServerInfo(server_id, request, pid=process.pid)
            self._servers[server_id] = _Process(info, process, log)
            return replace(info)

    def _check_model(self, request: ServeRequest) -> None:
        ref: int | str = "latest"
        try:
            if request.ref is None:
                model = self.registry.get_registered_model(request.model)
                if model.latest_version is None:
                    raise NotFoundError(f"Model {request.model!r} has no versions to serve.")
            else:
                ref = request.ref[1:] if request.ref.startswith("@") else int(request.ref)
                self.registry.get_model_version(request.model, ref)
        except ValueError:
            raise InvalidValueError(
                f"{request.ref!r} is not a version number or an @alias."
            ) from None

    def _lifecycle_args(self, server_id: str) -> list[str]:
        return [
            "--parent-pid",
            str(os.getpid()),
            "--state-file",
            str(self._state_path(server_id)),
            "--detach-file",
            str(self._detach_path(server_id)),
        ]

    # ---- the warm standby --------------------------------------------------------------------

    def keep_spare(self) -> None:
        """Start a standby server if none waits (it imports scikit-learn ahead of need)."""
        with self._lock:
            if not self.warm_spare or self._spare_failures >= _MAX_SPARE_FAILURES:
                return
            if self._spare is not None:
                assert self._spare.process is not None
                if self._spare.process.poll() is None:
                    return
                self._spare_failures += 1
                self._forget_spare()
                if self._spare_failures >= _MAX_SPARE_FAILURES:
                    return
            server_id = uuid.uuid4().hex[:10]
            log = open(self._log_path(server_id), "wb")  # noqa: SIM115 (lives with the server)
            try:
                process = subprocess.Popen(
                    standby_command(self.registry.root),
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=_environment(),
                    **_session_options(),
                )
            except OSError:
                log.close()
                self._spare_failures = _MAX_SPARE_FAILURES
                return
            self._spare = _Process(ServerInfo(server_id, ServeRequest("")), process, log)

    def spare_pid(self) -> int | None:
        """The standby server's pid, if one waits."""
        with self._lock:
            if self._spare is None or self._spare.process is None:
                return None
            return self._spare.process.pid if self._spare.process.poll() is None else None

    def _take_spare(self, request: ServeRequest) -> _Process | None:
        spare, self._spare = self._spare, None
        if spare is None or spare.process is None or spare.process.poll() is not None:
            if spare is not None:
                self._spare = spare
                self._forget_spare()
            return None
        config = {
            "model": request.model,
            "ref": request.ref,
            "host": request.host,
            "port": request.port,
            "token": request.token,
            "max_body_mb": request.max_body_mb,
            "record_fraction": request.record_fraction,
            "parent_pid": os.getpid(),
            "state_file": str(self._state_path(spare.info.id)),
            "detach_file": str(self._detach_path(spare.info.id)),
        }
        assert spare.process.stdin is not None
        try:
            spare.process.stdin.write(json.dumps(config).encode("utf-8") + b"\n")
            spare.process.stdin.close()
        except OSError:
            self._spare = spare
            self._forget_spare()
            return None
        spare.info = ServerInfo(spare.info.id, request, pid=spare.process.pid)
        self._servers[spare.info.id] = spare
        return spare

    def _forget_spare(self) -> None:
        spare, self._spare = self._spare, None
        if spare is None or spare.process is None:
            return
        if spare.process.poll() is None:
            spare.process.terminate()
            try:
                spare.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                spare.process.kill()
                spare.process.wait()
        if spare.process.stdin is not None:
            try:
                spare.process.stdin.close()
            except OSError:
                pass
        if spare.log is not None:
            spare.log.close()
        self._log_path(spare.info.id).unlink(missing_ok=True)

    # ---- following ---------------------------------------------------------------------------

    def poll(self) -> list[ServerInfo]:
        """Follow every server one step (health checks included); return those that changed."""
        with self._lock:
            entries = list(self._servers.values())
        changed = []
        for entry in entries:
            before = (entry.info.state, entry.info.port, entry.info.version)
            self._follow(entry)
            if (entry.info.state, entry.info.port, entry.info.version) != before:
                changed.append(replace(entry.info))
        self.keep_spare()
        return changed

    def _follow(self, entry: _Process) -> None:
        info = entry.info
        if not info.state.is_live:
            return
        state = self._read_state(info.id)
        if state:
            info.port = int(state.get("port") or 0) or info.port
            if state.get("version") is not None:
                info.version = str(state["version"])
            info.pid = int(state.get("pid") or 0) or info.pid
        code = entry.process.poll() if entry.process is not None else None
        gone = code is not None or (entry.process is None and not self._pid_alive(info.pid))
        if gone:
            self._ended(entry, code)
            return
        if info.state == ServerState.STARTING and info.port and self._healthy(info):
            info.state = ServerState.READY
            info.ready_at = time.time()

    def _ended(self, entry: _Process, code: int | None) -> None:
        info = entry.info
        if entry.log is not None:
            entry.log.close()
            entry.log = None
        if info.state == ServerState.STOPPING or code == 0:
            info.state = ServerState.STOPPED
        else:
            info.state = ServerState.FAILED
            info.reason = _failure_reason(code, self.log_tail(info.id, 30))
        self._state_path(info.id).unlink(missing_ok=True)
        self._detach_path(info.id).unlink(missing_ok=True)

    def _healthy(self, info: ServerInfo) -> bool:
        status, _body = self._get(info, "/v2/health/ready")
        return status == 200

    def _get(self, info: ServerInfo, path: str) -> tuple[int, bytes]:
        if info.port is None:
            return 0, b""
        try:
            return call(info.url, "GET", path, token=info.request.token, timeout=_PROBE_TIMEOUT_S)
        except NO_ANSWER:
            return 0, b""

    def stats(self, server_id: str) -> dict[str, Any]:
        """The server's own figures (requests, errors, rate, latency percentiles), or {}."""
        info = self._entry(server_id).info
        if info.state != ServerState.READY:
            return {}
        status, body = self._get(info, "/modeldesk/stats")
        if status != 200:
            return {}
        try:
            data = json.loads(body)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def set_recording(self, server_id: str, enabled: bool, fraction: float = 0.1) -> dict[str, Any]:
        """Switch a running server's input recording on or off; return its recording state."""
        info = self._entry(server_id).info
        if info.state != ServerState.READY or info.port is None:
            raise ConflictError("The server is not ready.")
        body = json.dumps({"enabled": enabled, "fraction": fraction}).encode("utf-8")
        try:
            status, answer = call(
                info.url, "PUT", "/modeldesk/recording", body=body, token=info.request.token
            )
            data = json.loads(answer or b"{}")
        except (*NO_ANSWER, ValueError) as exc:
            raise AppError(f"The server did not answer: {exc}") from exc
        if status != 200:
            message = data.get("error") or data.get("message") if isinstance(data, dict) else ""
            raise AppError(f"Recording was not switched: {message or status}")
        return data if isinstance(data, dict) else {}

    def servers(self) -> list[ServerInfo]:
        """Every server of this session, oldest first (snapshots)."""
        with self._lock:
            return [replace(entry.info) for entry in self._servers.values()]

    def get(self, server_id: str) -> ServerInfo:
        """One server (a snapshot)."""
        return replace(self._entry(server_id).info)

    def log_tail(self, server_id: str, lines: int = 200) -> str:
        """The last lines the server wrote."""
        path = self._log_path(server_id)
        try:
            with open(path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - _LOG_TAIL_BYTES))
                data = handle.read()
        except OSError:
            return ""
        text = data.decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    # ---- stopping ----------------------------------------------------------------------------

    def stop(self, server_id: str, *, grace: float = _STOP_GRACE_S) -> ServerInfo:
        """Stop a server gracefully (in-flight requests finish); kill it after ``grace``."""
        entry = self._entry(server_id)
        info = entry.info
        if not info.state.is_live:
            return replace(info)
        info.state = ServerState.STOPPING
        self._signal(entry, kill=False)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self._alive(entry):
            time.sleep(0.05)
        if self._alive(entry):
            self._signal(entry, kill=True)
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline and self._alive(entry):
                time.sleep(0.05)
        self._ended(entry, 0)
        return replace(info)

    def restart(self, server_id: str) -> ServerInfo:
        """Stop a server and start it again with the same request (and port, if it had one)."""
        old = self.stop(server_id)
        request = old.request
        if request.port == 0 and old.port:
            request = replace(request, port=old.port)  # clients keep their URL
        with self._lock:
            self._servers.pop(server_id, None)
        try:
            return self.start(request)
        except ConflictError:
            return self.start(replace(request, port=0))

    def forget(self, server_id: str) -> None:
        """Drop a stopped or failed server from the list (its log goes too)."""
        with self._lock:
            entry = self._servers.get(server_id)
            if entry is None or entry.info.state.is_live:
                return
            del self._servers[server_id]
        self._log_path(server_id).unlink(missing_ok=True)

    def shutdown(self, *, keep_running: bool = False) -> None:
        """The app quits: stop every server, or leave them running detached from this process."""
        with self._lock:
            self._forget_spare()
            entries = list(self._servers.values())
        for entry in entries:
            if not entry.info.state.is_live:
                continue
            if keep_running:
                self._detach_path(entry.info.id).write_text(str(time.time()))
                if entry.log is not None:
                    entry.log.close()
                    entry.log = None
            else:
                self.stop(entry.info.id)

    # ---- servers of earlier sessions ---------------------------------------------------------

    def adopt_running(self) -> list[ServerInfo]:
        """Show servers an earlier session left running on purpose (found by their state files)."""
        found = []
        for path in sorted(self.folder.glob("*.json")):
            server_id = path.stem
            with self._lock:
                if server_id in self._servers:
                    continue
            state = self._read_state(server_id)
            pid = int(state.get("pid") or 0) if state else 0
            if not state or not pid or not self._pid_alive(pid):
                if state and pid and not self._pid_alive(pid):
                    path.unlink(missing_ok=True)  # a server that died without cleaning up
                continue
            ref = state.get("alias")
            request = ServeRequest(
                model=str(state.get("model") or ""),
                ref=f"@{ref}" if ref else str(state.get("version") or "") or None,
                host=str(state.get("host") or LOOPBACK),
                port=int(state.get("port") or 0),
            )
            info = ServerInfo(
                server_id,
                request,
                state=ServerState.STARTING,
                pid=pid,
                port=request.port or None,
                version=str(state.get("version")) if state.get("version") is not None else None,
                started_at=float(state.get("started_at") or time.time()),
                adopted=True,
            )
            entry = _Process(info, None)
            with self._lock:
                self._servers[server_id] = entry
            self._follow(entry)
            found.append(replace(info))
        return found

    # ---- helpers -----------------------------------------------------------------------------

    def _entry(self, server_id: str) -> _Process:
        with self._lock:
            entry = self._servers.get(server_id)
        if entry is None:
            raise NotFoundError(f"No server {server_id!r} in this session.")
        return entry

    def _alive(self, entry: _Process) -> bool:
        if entry.process is not None:
            return entry.process.poll() is None
        return self._pid_alive(entry.info.pid)

    @staticmethod
    def _pid_alive(pid: int | None) -> bool:
        if not pid:
            return False
        import psutil

        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def _signal(self, entry: _Process, *, kill: bool) -> None:
        import psutil

        try:
            if entry.process is not None:
                entry.process.kill() if kill else entry.process.terminate()
            elif entry.info.pid:
                process = psutil.Process(entry.info.pid)
                process.kill() if kill else process.terminate()
        except (OSError, psutil.Error):
            pass

    def _read_state(self, server_id: str) -> dict[str, Any]:
        try:
            data = json.loads(self._state_path(server_id).read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _state_path(self, server_id: str) -> Path:
        return self.folder / f"{server_id}.json"

    def _detach_path(self, server_id: str) -> Path:
        return self.folder / f"{server_id}.detached"

    def _log_path(self, server_id: str) -> Path:
        return self.folder / f"{server_id}.log"


def _failure_reason(code: int | None, tail: str) -> str:
    """The server's own last error line when it wrote one, else how it ended."""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    if errors:
        return errors[-1].removeprefix("Error:").strip()
    if code == PORT_IN_USE_EXIT:
        return "The port is already in use. Choose another port, or 0 for a free one."
    how = f"exited with code {code}" if code is not None else "is gone"
    return f"The server {how}." + (f" Last output: {lines[-1]}" if lines else "")
