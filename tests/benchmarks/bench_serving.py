"""Workload S: model serving, ModelDesk against `mlflow models serve` and MLServer.

The same two fitted estimators on scikit-learn's breast-cancer data (569 rows, 30 features) — a
StandardScaler + LogisticRegression pipeline and a 100-tree RandomForest — are served by:

* ModelDesk (``python -m desktop_app serve``), registered in a fresh registry here, through its
  V2 path (``/v2/models/NAME/infer``) and, as an extra row, its MLflow path (``/invocations``);
* ``mlflow models serve --env-manager local`` from the MLflow venv (``--mlflow-python``), on an
  MLflow Model directory ``mlflow.sklearn.save_model`` wrote there from the same estimator;
* MLServer with its scikit-learn runtime from ``.venv-mlserver`` (``make bench`` creates it; set
  ``MODELDESK_BENCH_MLSERVER`` to another venv), on the same estimator saved with joblib, with
  ``parallel_workers: 0`` (the only setting it loads a model with here), no metrics server and
  ``debug: false`` (no access log) — its fastest single-process configuration.

Each (server, model) pair runs alone: start the server, time start-up to ready, run the cases,
read the resident memory of the server's process tree, stop it with SIGTERM. Cases: single-row
requests from 1 and 8 concurrent clients and 1,000-row batches from 1 client, 10 s each
(``--quick``: the LogisticRegression pipeline only, 1 s each, no client check). Each client is
a thread with one keep-alive connection (raw sockets, pre-encoded bodies, so a client costs
little CPU per request) in load-generator processes apart from the server: 1 process for one
client, 2 processes × 4 threads for 8. A check at the start compares 8 processes × 1 thread,
2 × 4 and 1 × 8 on the first server: on this 2-core machine more client processes steal CPU
from the server, while the clients' own CPU stays far below a core, so the GIL caps nothing.
A sample of answers (the first ones and every 25th) is compared
with scikit-learn's own predictions.

Run as ``python -m tests.benchmarks.bench_serving --client`` this module is one load client: it
reads its job as a JSON line on stdin, says ``ready``, waits for ``go START END`` and prints its
figures as a JSON line.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.benchmarks.bench_common import (
    ROOT,
    Context,
    Result,
    cached,
    finish_build,
    fmt_ratio,
    fmt_seconds,
    say,
    start_build,
    table,
    verdict,
)

TITLE = "Model serving: req/s, p50/p99, start-up, memory vs mlflow models serve and MLServer"
HOST = "127.0.0.1"
MLSERVER_VENV = Path(os.environ.get("MODELDESK_BENCH_MLSERVER", ROOT / ".venv-mlserver"))
DRIVER = Path(__file__).resolve().parent / "bench_serving_mlflow_driver.py"
THROUGHPUT_GOAL = 3.0  # × the faster peer, single rows at 1 and 8 clients
P50_GOAL_S = 0.002
READY_GOAL_S = 1.0
RSS_GOAL_MB = 200.0
BATCH_ROWS = 1000
CLIENT_PROCESSES = {1: 1, 8: 2}  # load-generator processes per number of clients
CHECK_EVERY = 25
READY_TIMEOUT_S = 180.0
STOP_GRACE_S = 15.0
MODELDESK = "ModelDesk"
MODELDESK_MLFLOW = "ModelDesk /invocations"
MLSERVER = "MLServer"
MLFLOW = "mlflow models serve"


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    rows: int
    clients: int


CASES = (
    Case("one", "1 client × 1 row", 1, 1),
    Case("eight", "8 clients × 1 row", 1, 8),
    Case("batch", f"1 client × {BATCH_ROWS:,} rows", BATCH_ROWS, 1),
)


# ---- the models -------------------------------------------------------------------------------


@dataclass
class Model:
    """One fitted estimator, its file, and the request bodies every server gets."""

    key: str  # "lr" / "rf"
    label: str
    estimator: Any
    joblib_file: Path
    rows: list[list[float]]  # the 569 rows of the data set
    batch: list[int]  # row indexes of the 1,000-row batch
    predictions: list[int]  # estimator.predict on every row
    inprocess: dict[str, float] = field(default_factory=dict)  # seconds per predict call

    def expected(self, case: Case) -> list[list[int]]:
        if case.rows == 1:
            return [[p] for p in self.predictions]
        return [[self.predictions[i] for i in self.batch]]

    def matrices(self, case: Case) -> list[list[list[float]]]:
        if case.rows == 1:
            return [[row] for row in self.rows]
        return [[self.rows[i] for i in self.batch]]


def _fit(folder: Path) -> list[Model]:
    import joblib
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_breast_cancer(return_X_y=True)
    batch = [int(i) for i in np.random.default_rng(0).integers(0, len(x), BATCH_ROWS)]
    models = []
    for key, label, estimator in (
        (
            "lr",
            "LogisticRegression pipeline",
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        ),
        ("rf", "RandomForest, 100 trees", RandomForestClassifier(100, random_state=0)),
    ):
        estimator.fit(x, y)
        path = folder / f"{key}.joblib"
        joblib.dump(estimator, path)
        model = Model(
            key,
            label,
            estimator,
            path,
            x.tolist(),
            batch,
            [int(p) for p in estimator.predict(x)],
        )
        model.inprocess["one"] = _inprocess(lambda e=estimator: e.predict(x[:1]))
        model.inprocess["batch"] = _inprocess(lambda e=estimator: e.predict(x[batch]), times=20)
        models.append(model)
    return models


def _inprocess(call: Any, times: int = 200) -> float:
    call()
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- request bodies ---------------------------------------------------------------------------


def _v2_body(matrix: list[list[float]]) -> str:
    flat = [value for row in matrix for value in row]
    tensor = {"name": "input-0", "shape": [len(matrix), 30], "datatype": "FP64", "data": flat}
    return json.dumps({"inputs": [tensor]})


def _mlflow_body(matrix: list[list[float]]) -> str:
    return json.dumps({"dataframe_split": {"data": matrix}})


@dataclass
class Target:
    """Where and what a load client sends: one protocol of one running server."""

    label: str
    port: int
    path: str
    protocol: str  # "v2" or "mlflow"

    def job(self, model: Model, case: Case, threads: int) -> dict[str, Any]:
        encode = _v2_body if self.protocol == "v2" else _mlflow_body
        return {
            "host": HOST,
            "port": self.port,
            "path": self.path,
            "protocol": self.protocol,
            "bodies": [encode(m) for m in model.matrices(case)],
            "expected": model.expected(case),
            "threads": threads,
            "warmup": 20 if case.rows == 1 else 3,
        }


# ---- the load client (a separate process) ----------------------------------------------------


class _Connection:
    """One keep-alive HTTP/1.1 connection over a raw socket: send bytes, read one response."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.sock: socket.socket | None = None
        self.buffer = b""

    def open(self) -> None:
        self.close()
        self.sock = socket.create_connection((self.host, self.port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _more(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.open()
        assert self.sock is not None
        self.sock.sendall(request)
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._more()
        head = self.buffer[:end].decode("latin-1").split("\r\n")
        self.buffer = self.buffer[end + 4 :]
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        if "content-length" in headers:
            length = int(headers["content-length"])
            while len(self.buffer) < length:
                self._more()
            body, self.buffer = self.buffer[:length], self.buffer[length:]
        elif headers.get("transfer-encoding") == "chunked":
            body = self._chunked()
        else:  # until the server closes
            body = self.buffer
            try:
                while True:
                    self._more()
            except ConnectionError:
                body = self.buffer
            self.close()
        if headers.get("connection") == "close":
            self.close()
        return status, body

    def _chunked(self) -> bytes:
        parts = []
        while True:
            while (end := self.buffer.find(b"\r\n")) < 0:
                self._more()
            size = int(self.buffer[:end].split(b";")[0], 16)
            self.buffer = self.buffer[end + 2 :]
            while len(self.buffer) < size + 2:
                self._more()
            parts.append(self.buffer[:size])
            self.buffer = self.buffer[size + 2 :]
            if size == 0:
                return b"".join(parts)


def _predictions(protocol: str, body: bytes) -> list[int]:
    document = json.loads(body)
    if protocol == "v2":
        values = next(o["data"] for o in document["outputs"] if o["name"] == "predict")
    else:
        values = document["predictions"]
    return [int(v) for v in values]


class _ClientThread(threading.Thread):
    def __init__(self, job: dict[str, Any], index: int):
        super().__init__(daemon=True)
        self.job = job
        self.conn = _Connection(job["host"], job["port"])
        head = (
            f"POST {job['path']} HTTP/1.1\r\nHost: {job['host']}:{job['port']}\r\n"
            "Content-Type: application/json\r\n"
        )
        self.requests = [
            (head + f"Content-Length: {len(b.encode())}\r\n\r\n").encode() + b.encode()
            for b in job["bodies"]
        ]
        self.offset = index * 7919  # a different row sequence per client
        self.latencies: list[float] = []
        self.errors = 0
        self.checked = 0
        self.wrong = 0
        self.first_error = ""
        self.start_at = self.end_at = 0.0

    def one(self, number: int, check: bool) -> tuple[bool, float]:
        index = (self.offset + number) % len(self.requests)
        started = time.monotonic()
        try:
            status, body = self.conn.exchange(self.requests[index])
        except OSError as exc:
            self.conn.close()
            self.errors += 1
            self.first_error = self.first_error or f"{type(exc).__name__}: {exc}"
            return False, time.monotonic()
        ended = time.monotonic()
        if status != 200:
            self.errors += 1
            self.first_error = self.first_error or f"HTTP {status}: {body[:300]!r}"
            return False, ended
        if check:
            self.checked += 1
            try:
                ok = _predictions(self.job["protocol"], body) == self.job["expected"][index]
            except (ValueError, KeyError, TypeError, StopIteration):
                ok = False
            if not ok:
                self.wrong += 1
                self.first_error = self.first_error or f"wrong answer: {body[:300]!r}"
        self.latencies.append(ended - started)
        return True, ended

    def warmup(self) -> None:
        for number in range(self.job["warmup"]):
            self.one(number, check=True)
        self.latencies.clear()
        self.errors = 0

    def run(self) -> None:
        # A fresh connection: the warm-up one may have idled past the server's keep-alive
        # timeout while slower clients warmed up (uvicorn closes idle ones after 5 s).
        try:
            self.conn.open()
        except OSError as exc:
            self.errors += 1
            self.first_error = f"connect: {type(exc).__name__}: {exc}"
            return
        while (wait := self.start_at - time.monotonic()) > 0:
            time.sleep(min(wait, 0.002))
        number = 0
        while time.monotonic() < self.end_at:
            ok, ended = self.one(number, check=number < 5 or number % CHECK_EVERY == 0)
            if ok and ended > self.end_at:  # finished after the window: not counted
                self.latencies.pop()
            number += 1
            if self.errors > 50 and not self.latencies:
                break
        self.conn.close()


def _client_main() -> int:
    job = json.loads(sys.stdin.readline())
    threads = [_ClientThread(job, i) for i in range(job["threads"])]
    for thread in threads:
        thread.warmup()
    print("ready", flush=True)
    _, start, end = sys.stdin.readline().split()
    cpu = time.process_time()
    for thread in threads:
        thread.start_at, thread.end_at = float(start), float(end)
        thread.start()
    for thread in threads:
        thread.join()
    figures = {
        "latencies": [x for t in threads for x in t.latencies],
        "errors": sum(t.errors for t in threads),
        "checked": sum(t.checked for t in threads),
        "wrong": sum(t.wrong for t in threads),
        "first_error": next((t.first_error for t in threads if t.first_error), ""),
        "cpu_s": time.process_time() - cpu,
    }
    print(json.dumps(figures), flush=True)
    return 0


# ---- running the load -------------------------------------------------------------------------


@dataclass
class Load:
    seconds: float
    latencies: list[float]
    errors: int
    checked: int
    wrong: int
    first_error: str
    client_cpu_s: float
    server_cpu_s: float

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def p50(self) -> float:
        return _percentile(self.latencies, 0.50)

    @property
    def p99(self) -> float:
        return _percentile(self.latencies, 0.99)

    def cpu(self) -> str:
        return (
            f"server CPU {self.server_cpu_s / self.seconds:.0%}, "
            f"clients {self.client_cpu_s / self.seconds:.0%} of one core"
        )

    def answers(self) -> str:
        text = f"{self.checked} answers checked, {self.wrong} wrong, {self.errors} errors"
        return text + (f" (first: {self.first_error[:200]})" if self.first_error else "")


def _percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (nan for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))]


def _client_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    return env


def _load(
    server: Server,
    target: Target,
    model: Model,
    case: Case,
    seconds: float,
    processes: int | None = None,
    threads: int = 1,
) -> Load:
    """``case.clients`` clients (``processes`` × ``threads``) for ``seconds``, figures merged."""
    if processes is None:
        processes = CLIENT_PROCESSES.get(case.clients, 1)
        threads = case.clients // processes
    job = json.dumps(target.job(model, case, threads)) + "\n"
    clients = []
    for _ in range(processes):
        errors = server.folder / "client-stderr.txt"
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.benchmarks.bench_serving", "--client"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(errors, "ab"),  # noqa: SIM115 (closed with the process)
            cwd=ROOT,
            env=_client_env(),
            text=True,
        )
        clients.append(proc)
    try:
        for proc in clients:
            assert proc.stdin is not None
            proc.stdin.write(job)
            proc.stdin.flush()
        for proc in clients:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                stderr = _tail(server.folder / "client-stderr.txt")
                raise RuntimeError(f"a load client failed before the run: {stderr}")
        cpu_before = server.cpu_seconds()
        start = time.monotonic() + 0.2
        end = start + seconds
        for proc in clients:
            assert proc.stdin is not None
            proc.stdin.write(f"go {start} {end}\n")
            proc.stdin.close()
        time.sleep(max(0.0, end - time.monotonic()))
        cpu_after = server.cpu_seconds()
        outputs = []
        for proc in clients:
            assert proc.stdout is not None
            lines = proc.stdout.read().strip().splitlines()
            proc.wait(timeout=60)
            if not lines:
                stderr = _tail(server.folder / "client-stderr.txt")
                raise RuntimeError(f"a load client failed: {stderr}")
            outputs.append(json.loads(lines[-1]))
    finally:
        for proc in clients:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return Load(
        seconds,
        [x for o in outputs for x in o["latencies"]],
        sum(o["errors"] for o in outputs),
        sum(o["checked"] for o in outputs),
        sum(o["wrong"] for o in outputs),
        next((o["first_error"] for o in outputs if o["first_error"]), ""),
        sum(o["cpu_s"] for o in outputs),
        cpu_after - cpu_before,
    )


# ---- servers ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no output)"
    return "\n".join(text.strip().splitlines()[-lines:]) or "(no output)"


def _probe(port: int, path: str) -> bool:
    import http.client

    conn = http.client.HTTPConnection(HOST, port, timeout=1.0)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def _peer_env(venv: Path) -> dict[str, str]:
    """A peer server's environment: its venv's bin first, none of the app venv's variables."""
    env = dict(os.environ)
    for var in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(var, None)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return env


@dataclass
class Server:
    """A server process this benchmark started (in its own session, so its whole tree stops)."""

    label: str
    proc: subprocess.Popen[bytes]
    folder: Path
    log: Path
    started: float
    port: int = 0
    ready_s: float = math.nan

    @classmethod
    def start(
        cls,
        label: str,
        argv: list[str],
        folder: Path,
        env: dict[str, str],
        *,
        port: int = 0,
        stdin: bool = False,
    ) -> Server:
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / "server-log.txt"
        with open(log, "wb") as out:
            started = time.monotonic()
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=folder,
                env=env,
                start_new_session=True,
            )
        return cls(label, proc, folder, log, started, port)

    def wait_ready(self, probe: str, since: float | None = None) -> float:
        """Seconds from ``since`` (default: the start) until ``probe`` answers 200."""
        since = self.started if since is None else since
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.label} exited ({self.proc.returncode}) before it was ready:\n"
                    + _tail(self.log)
                )
            if self.port and _probe(self.port, probe):
                self.ready_s = time.monotonic() - since
                return self.ready_s
            time.sleep(0.005)
        raise RuntimeError(f"{self.label} was not ready after {READY_TIMEOUT_S:.0f} s")

    def tree(self) -> list[Any]:
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        import psutil

        total = 0.0
        for proc in self.tree():
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def memory(self) -> tuple[float, float, int]:
        """RSS and USS of the whole process tree in MB, and how many processes it has."""
        import psutil

        rss = uss = 0
        tree = self.tree()
        for proc in tree:
            try:
                info = proc.memory_full_info()
                rss += info.rss
                uss += info.uss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return rss / 1e6, uss / 1e6, len(tree)

    def stop(self) -> str:
        """SIGTERM to the server's process group; SIGKILL after a grace period."""
        if self.proc.poll() is not None:
            return f"had already exited ({self.proc.returncode})"
        tree = self.tree()[1:]  # the children, known before the parent goes
        started = time.monotonic()
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            code = self.proc.wait(timeout=STOP_GRACE_S)
            time.sleep(0.2)
            leftovers = [p for p in tree if p.is_running() and p.status() != "zombie"]
            for proc in leftovers:
                proc.kill()
            extra = f", {len(leftovers)} child process(es) left and killed" if leftovers else ""
            return f"stopped in {fmt_seconds(time.monotonic() - started)} (exit {code}){extra}"
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return f"did not stop within {STOP_GRACE_S:.0f} s of SIGTERM: killed"


# ---- the three servers --------------------------------------------------------------------------


@dataclass
class Session:
    """Figures of one (server, model) pair."""

    server: str
    model: str
    ready_s: float = math.nan
    ready_note: str = ""
    rss_mb: float = math.nan
    uss_mb: float = math.nan
    processes: int = 0
    loads: dict[str, Load] = field(default_factory=dict)
    stop_note: str = ""
    problem: str = ""


def _run_cases(
    server: Server, targets: list[tuple[Target, Session]], model: Model, seconds: float
) -> None:
    """Every case on every target of one server; targets alternate within a case."""
    for case in CASES:
        for target, session in targets:
            load = _load(server, target, model, case, seconds)
            session.loads[case.key] = load
            say(
                f"    {target.label:<24} {case.label:<22} {load.rps:8.1f} req/s  "
                f"p50 {fmt_seconds(load.p50):>8}  p99 {fmt_seconds(load.p99):>8}  "
                f"({load.cpu()}; {load.answers()})"
            )
            if load.wrong or not load.latencies:
                session.problem = session.problem or f"{case.label}: {load.answers()}"


def _finish(server: Server, session: Session) -> None:
    session.rss_mb, session.uss_mb, session.processes = server.memory()
    session.stop_note = server.stop()
    say(
        f"    resident memory after the load: {session.rss_mb:.0f} MB RSS, {session.uss_mb:.0f} MB "
        f"USS ({session.processes} process(es)); {session.stop_note}"
    )


def _mlserver_session(
    folder: Path, model: Model, seconds: float, check: Any | None = None
) -> Session:
    session = Session(MLSERVER, model.key)
    root = folder / f"mlserver-{model.key}"
    shutil.rmtree(root, ignore_errors=True)
    (root / model.key).mkdir(parents=True)
    shutil.copy(model.joblib_file, root / model.key / "model.joblib")
    (root / model.key / "model-settings.json").write_text(
        json.dumps(
            {
                "name": model.key,
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib", "version": "1"},
            }
        )
    )
    port = _free_port()
    settings = {
        "debug": False,
        "host": HOST,
        "http_port": port,
        "grpc_port": _free_port(),
        "metrics_port": _free_port(),
        "metrics_endpoint": None,
        "parallel_workers": 0,
    }
    (root / "settings.json").write_text(json.dumps(settings))
    server = Server.start(
        MLSERVER,
        [str(MLSERVER_VENV / "bin" / "mlserver"), "start", str(root)],
        root,
        _peer_env(MLSERVER_VENV),
        port=port,
    )
    try:
        session.ready_s = server.wait_ready(f"/v2/models/{model.key}/ready")
        say(f"    ready in {fmt_seconds(session.ready_s)} (GET /v2/models/{model.key}/ready → 200)")
        target = Target(MLSERVER, port, f"/v2/models/{model.key}/infer", "v2")
        if check is not None:
            check(server, target)
        _run_cases(server, [(target, session)], model, seconds)
    finally:
        _finish(server, session)
    return session


def _mlflow_session(
    ctx: Context, folder: Path, model: Model, model_dir: Path, seconds: float
) -> Session:
    assert ctx.mlflow_python is not None
    session = Session(MLFLOW, model.key)
    venv = ctx.mlflow_python.parent.parent
    port = _free_port()
    argv = [
        str(venv / "bin" / "mlflow"),
        "models",
        "serve",
        "-m",
        str(model_dir),
        "--env-manager",
        "local",
        "-p",
        str(port),
        "-h",
        HOST,
    ]
    server = Server.start(MLFLOW, argv, folder / f"mlflow-{model.key}", _peer_env(venv), port=port)
    try:
        session.ready_s = server.wait_ready("/ping")
        say(f"    ready in {fmt_seconds(session.ready_s)} (GET /ping → 200)")
        target = Target(MLFLOW, port, "/invocations", "mlflow")
        _run_cases(server, [(target, session)], model, seconds)
    finally:
        _finish(server, session)
    return session


# ---- ModelDesk --------------------------------------------------------------------------------


def _modeldesk_available() -> str | None:
    """Why ModelDesk's server cannot be benchmarked yet (None when it can)."""
    proc = subprocess.run(
        [sys.executable, "-m", "desktop_app", "serve", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    if proc.returncode != 0:
        return (
            "`python -m desktop_app serve` is not there yet: "
            + (proc.stderr.strip().splitlines() or ["?"])[-1]
        )
    return None


def _register(folder: Path, models: list[Model]) -> Path:
    """A fresh registry holding one version of each model, logged as a user's script would."""
    from desktop_app.registry import Registry
    from desktop_app.registry.tracking import start_run
    from desktop_app.versioning.model_history import register_model_version

    registry_dir = folder / "registry"
    shutil.rmtree(registry_dir, ignore_errors=True)
    registry = Registry(registry_dir)
    try:
        for model in models:
            with start_run(
                "serving-bench", name=model.key, registry=registry, source="bench_serving"
            ) as run:
                run.log_model(model.estimator, "model")
            register_model_version(registry, f"bench-{model.key}", run.id)
    finally:
        registry.close()
    return registry_dir


def _modeldesk_cold(folder: Path, registry: Path, model: Model) -> tuple[float, float, str]:
    """``serve`` from nothing: seconds to ready, to the ``Ready:`` line, and the stop note."""
    port = _free_port()
    argv = [
        sys.executable,
        "-m",
        "desktop_app",
        "--registry",
        str(registry),
        "serve",
        f"bench-{model.key}:1",
        "--port",
        str(port),
    ]
    env = _client_env()
    server = Server.start(MODELDESK, argv, folder / f"modeldesk-cold-{model.key}", env, port=port)
    try:
        ready = server.wait_ready("/v2/health/ready")
        line = math.nan
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if "Ready:" in server.log.read_text(errors="replace"):
                line = time.monotonic() - server.started
                break
            time.sleep(0.005)
    finally:
        note = server.stop()
    return ready, line, note


def _modeldesk_standby(folder: Path, registry: Path, model: Model) -> tuple[Server, float, str]:
    """The app's Serve path: a standby that has imported everything gets its config line."""
    import psutil

    argv = [sys.executable, "-m", "desktop_app", "--registry", str(registry), "serve-standby"]
    sub = folder / f"modeldesk-{model.key}"
    server = Server.start(MODELDESK, argv, sub, _client_env(), stdin=True)
    # Warm = the standby has finished its imports and waits on stdin (no CPU for 300 ms).
    proc = psutil.Process(server.proc.pid)
    last, quiet_since = -1.0, time.monotonic()
    while time.monotonic() - server.started < 60:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"the standby exited ({server.proc.returncode}): {_tail(server.log)}"
            )
        times = proc.cpu_times()
        now = times.user + times.system
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since > 0.3 and time.monotonic() - server.started > 0.5:
            break
        time.sleep(0.02)
    warm = quiet_since - server.started
    state_file, detach_file = sub / "state.json", sub / "detach"
    state_file.unlink(missing_ok=True)
    config = {
        "model": f"bench-{model.key}",
        "ref": None,
        "host": HOST,
        "port": 0,
        "token": None,
        "parent_pid": os.getpid(),
        "state_file": str(state_file),
        "detach_file": str(detach_file),
        "max_body_mb": 32,
        "record_fraction": 0,
    }
    assert server.proc.stdin is not None
    sent = time.monotonic()
    server.proc.stdin.write(json.dumps(config).encode() + b"\n")
    server.proc.stdin.close()
    deadline = sent + READY_TIMEOUT_S
    state_ready = math.nan
    while time.monotonic() < deadline and not server.port:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"the standby exited ({server.proc.returncode}): {_tail(server.log)}"
            )
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            state = {}
        if state.get("state") == "ready" and state.get("port"):
            server.port = int(state["port"])
            state_ready = time.monotonic() - sent
        else:
            time.sleep(0.002)
    ready = server.wait_ready("/v2/health/ready", since=sent)
    note = (
        f"standby warm {fmt_seconds(warm)} after its start; config line → state file ready "
        f"{fmt_seconds(state_ready)}, → /v2/health/ready 200 {fmt_seconds(ready)}"
    )
    return server, ready, note


def _modeldesk_sessions(
    ctx: Context, folder: Path, registry: Path, model: Model, seconds: float, check: Any
) -> list[Session]:
    session = Session(MODELDESK, model.key)
    extra = Session(MODELDESK_MLFLOW, model.key)
    colds, lines = [], []
    for _ in range(1 if ctx.quick else 3):
        ready, line, note = _modeldesk_cold(folder, registry, model)
        colds.append(ready)
        lines.append(line)
    cold = statistics.median(colds)
    say(
        f"    cold `serve`: ready in {fmt_seconds(cold)} (GET /v2/health/ready → 200; median of "
        f"{len(colds)}: {', '.join(fmt_seconds(c) for c in colds)}); `Ready:` line at "
        f"{fmt_seconds(statistics.median(lines))}; {note}"
    )
    server, ready, note = _modeldesk_standby(folder, registry, model)
    session.ready_s = ready
    session.ready_note = f"cold {fmt_seconds(cold)}"
    extra.ready_s, extra.ready_note = session.ready_s, session.ready_note
    say(f"    warm standby (the app's Serve button): ready in {fmt_seconds(ready)}; {note}")
    try:
        name = f"bench-{model.key}"
        target = Target(MODELDESK, server.port, f"/v2/models/{name}/infer", "v2")
        if check is not None:
            check(server, target)
        mlflow_target = Target(MODELDESK_MLFLOW, server.port, "/invocations", "mlflow")
        _run_cases(server, [(target, session), (mlflow_target, extra)], model, seconds)
    finally:
        _finish(server, session)
    extra.rss_mb, extra.uss_mb, extra.processes = session.rss_mb, session.uss_mb, session.processes
    return [session, extra]


# ---- MLflow's model directories ---------------------------------------------------------------


def _mlflow_dirs(ctx: Context, folder: Path, models: list[Model]) -> dict[str, Path]:
    assert ctx.mlflow_python is not None
    dirs = {}
    env = _peer_env(ctx.mlflow_python.parent.parent)
    for model in models:
        out = folder / f"mlflow-model-{model.key}"
        marker = {"joblib_sha256": _sha256(model.joblib_file), "python": str(ctx.mlflow_python)}
        if not cached(out, marker):
            start_build(out)
            proc = subprocess.run(
                [str(ctx.mlflow_python), str(DRIVER), str(model.joblib_file), str(out / "model")],
                capture_output=True,
                text=True,
                env=env,
                timeout=600,
            )
            if proc.returncode != 0:
                raise RuntimeError("MLflow save_model failed:\n" + proc.stderr[-2000:])
            finish_build(out, marker)
        dirs[model.key] = out / "model"
    return dirs


def _versions(python: Path, module: str) -> str:
    """``MODULE x.y (scikit-learn a.b)`` as that interpreter imports them."""
    code = f"import {module}, sklearn; print({module}.__version__, sklearn.__version__)"
    proc = subprocess.run(
        [str(python), "-c", code],
        capture_output=True,
        text=True,
        env=_peer_env(python.parent.parent),
        timeout=120,
    )
    if proc.returncode != 0:
        return f"{module} ? (scikit-learn ?)"
    version, sklearn_version = proc.stdout.split()
    import sklearn

    same = "" if sklearn_version == sklearn.__version__ else f" ≠ the app's {sklearn.__version__}!"
    return f"{version} (scikit-learn {sklearn_version}{same})"


# ---- the client check --------------------------------------------------------------------------


def _client_check(seconds: float) -> Any:
    """A callback for the first server: 8 clients as 8 processes, 2 × 4 threads, 1 × 8 threads."""
    done: list[bool] = []

    def check(server: Server, target: Target) -> None:
        if done:
            return
        done.append(True)
        case = CASES[1]
        model = _CHECK_MODEL[0]
        say(f"    load-client check on {target.label}, {case.label}, {fmt_seconds(seconds)} each:")
        for processes, threads in ((8, 1), (2, 4), (1, 8)):
            load = _load(server, target, model, case, seconds, processes, threads)
            say(
                f"      {processes} process(es) × {threads} thread(s): {load.rps:8.1f} req/s, "
                f"p50 {fmt_seconds(load.p50)}, p99 {fmt_seconds(load.p99)} ({load.cpu()})"
            )

    return check


_CHECK_MODEL: list[Model] = []


# ---- the report ---------------------------------------------------------------------------------


def _cell_rate(session: Session, key: str) -> str:
    load = session.loads.get(key)
    return f"{load.rps:,.0f}" if load and load.latencies else "—"


def _cell_time(session: Session, key: str, which: str) -> str:
    load = session.loads.get(key)
    if not load or not load.latencies:
        return "—"
    return fmt_seconds(load.p50 if which == "p50" else load.p99)


def _report(models: list[Model], sessions: list[Session]) -> None:
    headers = ["model", "server", "ready", "RSS (USS) MB"]
    for case in CASES:
        short = {"one": "1×1", "eight": "8×1", "batch": f"1×{BATCH_ROWS:,}"}[case.key]
        headers += [f"{short} req/s", "p50", "p99"]
    rows = []
    for model in models:
        floor = ["", "(sklearn predict, in-process)", "", ""]
        for case in CASES:
            seconds = model.inprocess["batch" if case.rows > 1 else "one"]
            floor += [f"{1 / seconds:,.0f}", fmt_seconds(seconds), ""]
        rows.append([model.key.upper(), *floor[1:]])
        for session in sessions:
            if session.model != model.key:
                continue
            ready = fmt_seconds(session.ready_s) if not math.isnan(session.ready_s) else "—"
            if session.ready_note:
                ready += f" ({session.ready_note})"
            memory = (
                f"{session.rss_mb:.0f} ({session.uss_mb:.0f})"
                if not math.isnan(session.rss_mb)
                else "—"
            )
            if session.server == MODELDESK_MLFLOW:
                ready, memory = "(same server)", "″"
            row = ["", session.server + (" ✗" if session.problem else ""), ready, memory]
            for case in CASES:
                row += [
                    _cell_rate(session, case.key),
                    _cell_time(session, case.key, "p50"),
                    _cell_time(session, case.key, "p99"),
                ]
            rows.append(row)
    say()
    say(table(headers, rows))
    say(
        "  req/s: completed requests ÷ window; 1×1 = 1 client, single rows; 8×1 = 8 clients; "
        f"1×{BATCH_ROWS:,} = {BATCH_ROWS:,}-row batches. ModelDesk's ready = warm standby (the "
        "app's Serve path), cold `serve` in brackets. RSS/USS: the server's process tree after "
        "the load. ✗ = wrong answers or no answers (see above)."
    )


def _results(models: list[Model], sessions: list[Session]) -> list[Result]:
    results = []
    for model in models:
        mine = next((s for s in sessions if s.server == MODELDESK and s.model == model.key), None)
        peers = [s for s in sessions if s.server in (MLSERVER, MLFLOW) and s.model == model.key]
        name = model.key.upper()
        if mine is None:
            continue
        for key, words in (("one", "1 client"), ("eight", "8 clients")):
            load = mine.loads.get(key)
            rates = [(p.loads[key].rps, p.server) for p in peers if key in p.loads]
            if load is None or not rates:
                continue
            best, who = max(rates)
            ratio = load.rps / best if best else math.inf
            results.append(
                Result(
                    "S",
                    f"{name}: single rows, {words} (req/s)",
                    f"{load.rps:,.0f} req/s",
                    f"≥ {THROUGHPUT_GOAL:g}× faster peer",
                    verdict(ratio >= THROUGHPUT_GOAL and not mine.problem),
                    mlflow=f"{who} {best:,.0f}",
                    ratio=fmt_ratio(ratio),
                )
            )
        one = mine.loads.get("one")
        if one is not None and one.latencies:
            fastest = min((p.loads["one"].p50 for p in peers if "one" in p.loads), default=math.nan)
            results.append(
                Result(
                    "S",
                    f"{name}: p50 of one row, 1 client",
                    fmt_seconds(one.p50),
                    f"< {fmt_seconds(P50_GOAL_S)}",
                    verdict(one.p50 < P50_GOAL_S),
                    mlflow=f"best peer {fmt_seconds(fastest)}" if not math.isnan(fastest) else "—",
                    ratio=fmt_ratio(fastest / one.p50) if not math.isnan(fastest) else "—",
                    notes=[
                        f"{name}: scikit-learn's own predict of one row takes "
                        f"{fmt_seconds(model.inprocess['one'])} in-process"
                    ],
                )
            )
        peer_ready = min((p.ready_s for p in peers), default=math.nan)
        results.append(
            Result(
                "S",
                f"{name}: start-up to ready (Serve button; {mine.ready_note})",
                fmt_seconds(mine.ready_s),
                f"< {fmt_seconds(READY_GOAL_S)}",
                verdict(mine.ready_s < READY_GOAL_S),
                mlflow="—" if math.isnan(peer_ready) else f"best peer {fmt_seconds(peer_ready)}",
                ratio=fmt_ratio(peer_ready / mine.ready_s) if not math.isnan(peer_ready) else "—",
            )
        )
        peer_rss = min((p.rss_mb for p in peers), default=math.nan)
        results.append(
            Result(
                "S",
                f"{name}: resident memory after the load",
                f"{mine.rss_mb:.0f} MB",
                f"< {RSS_GOAL_MB:.0f} MB",
                verdict(mine.rss_mb < RSS_GOAL_MB),
                mlflow=f"best peer {peer_rss:.0f} MB" if not math.isnan(peer_rss) else "—",
                ratio=fmt_ratio(peer_rss / mine.rss_mb) if not math.isnan(peer_rss) else "—",
            )
        )
    return results


def _source_state() -> str:
    """The commit the server code comes from, and whether desktop_app/serving has local edits."""
    try:
        head = subprocess.run(
            ["git", "log", "-1", "--format=%h %s"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "desktop_app/serving"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout.splitlines()
    except OSError:
        return "unknown (no git)"
    state = f"commit {head[:70]}"
    if dirty:
        state += f"; plus uncommitted changes in {len(dirty)} file(s) of desktop_app/serving"
    return state


def _load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


# ---- the workload -------------------------------------------------------------------------------


def run(ctx: Context) -> list[Result]:
    seconds = 1.0 if ctx.quick else 10.0
    folder = ctx.bench_dir / "serving"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*/client-stderr.txt"):
        stale.unlink()
    models = _fit(folder)
    _CHECK_MODEL[:] = models[:1]
    if ctx.quick:  # the LogisticRegression pipeline only, to stay under 2 minutes
        models = models[:1]
    say(
        f"  data: scikit-learn's breast-cancer set, {len(models[0].rows)} rows × 30 features; "
        f"{fmt_seconds(seconds)} per case{' (--quick: LR only)' if ctx.quick else ''}; one "
        f"server at a time; {os.cpu_count()} CPUs, "
        f"load average {_load_average()}"
    )
    for model in models:
        say(
            f"  {model.key.upper()} = {model.label}: in-process predict "
            f"{fmt_seconds(model.inprocess['one'])} for one row, "
            f"{fmt_seconds(model.inprocess['batch'])} for {BATCH_ROWS:,}"
        )

    say(f"  ModelDesk source: {_source_state()}")
    say(
        "  load clients: 1 process for 1 client, "
        + ", ".join(
            f"{p} processes × {c // p} threads for {c}"
            for c, p in CLIENT_PROCESSES.items()
            if c > 1
        )
        + "; keep-alive, raw sockets"
    )
    problems: list[str] = []
    servers: list[str] = []
    modeldesk_problem = _modeldesk_available()
    registry = None
    if modeldesk_problem is None:
        registry = _register(folder, models)
        servers.append(MODELDESK)
    else:
        problems.append(f"ModelDesk skipped: {modeldesk_problem}")
    mlserver = MLSERVER_VENV / "bin" / "mlserver"
    if mlserver.exists():
        servers.append(MLSERVER)
        versions = _versions(MLSERVER_VENV / "bin" / "python", "mlserver")
        say(f"  MLServer {versions} in {MLSERVER_VENV}")
    else:
        problems.append(f"MLServer skipped: {mlserver} does not exist (make bench creates it)")
    mlflow_dirs: dict[str, Path] = {}
    skip = ctx.mlflow_skip_reason()
    if skip is None:
        try:
            mlflow_dirs = _mlflow_dirs(ctx, folder, models)
            servers.append(MLFLOW)
            assert ctx.mlflow_python is not None
            say(f"  MLflow {_versions(ctx.mlflow_python, 'mlflow')} via {ctx.mlflow_python}")
        except (RuntimeError, subprocess.SubprocessError) as exc:
            problems.append(f"mlflow models serve skipped: {exc}")
    else:
        problems.append(f"mlflow models serve skipped: {skip}")
    for problem in problems:
        say("  " + problem.strip().replace("\n", "\n    "))

    check = None if ctx.quick else _client_check(3.0)
    sessions: list[Session] = []
    for model in models:
        for name in servers:
            say(f"  {model.key.upper()} on {name} (load average {_load_average()}):")
            try:
                if name == MODELDESK:
                    assert registry is not None
                    sessions += _modeldesk_sessions(ctx, folder, registry, model, seconds, check)
                elif name == MLSERVER:
                    sessions.append(_mlserver_session(folder, model, seconds, check))
                else:
                    sessions.append(
                        _mlflow_session(ctx, folder, model, mlflow_dirs[model.key], seconds)
                    )
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                say(f"    failed: {str(exc).strip()}")
                problems.append(f"{name} on {model.key.upper()} failed: {exc}")
                sessions.append(Session(name, model.key, problem=str(exc)))
    _report(models, sessions)
    results = _results(models, sessions)
    if not any(s.server == MODELDESK and s.loads for s in sessions):
        results.append(
            Result("S", "ModelDesk serving", "—", "see above", "SKIP", notes=problems[:1])
        )
    if results:
        results[-1].notes += [p.splitlines()[0] for p in problems if "ModelDesk" not in p]
    return results


if __name__ == "__main__":
    if sys.argv[1:] == ["--client"]:
        sys.exit(_client_main())
    sys.exit("usage: python -m tests.benchmarks.bench_serving --client  (a load client)")
