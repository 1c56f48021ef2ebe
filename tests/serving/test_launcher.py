"""The launcher the Serving panel drives: real server processes for a real registered model,
from starting to ready to stopped; standby, keep-running and adoption; "Try it" and the
snippets it copies, run as a user would run them."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from desktop_app.errors import ConflictError
from desktop_app.registry import Registry
from desktop_app.serving import try_it
from desktop_app.serving.launcher import ServeRequest, ServerManager, ServerState


def _frame(rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    island = rng.choice(["Biscoe", "Dream", "Torgersen"], size=rows)
    bill = rng.normal(45, 5, rows).round(1)
    return pd.DataFrame({"bill": bill, "island": island, "big": (bill > 45).astype(int)})


@pytest.fixture
def served_registry(registry: Registry) -> Iterator[tuple[Registry, object, pd.DataFrame]]:
    """A registry with "penguins" v1: a pipeline over a number and a text column."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from desktop_app.registry.tracking import start_run
    from desktop_app.versioning.model_history import register_model_version

    frame = _frame()
    x, y = frame[["bill", "island"]], frame["big"]
    model = make_pipeline(
        ColumnTransformer(
            [("num", StandardScaler(), ["bill"]), ("cat", OneHotEncoder(), ["island"])]
        ),
        LogisticRegression(),
    ).fit(x, y)
    with start_run("serving", registry=registry, nested=False) as run:
        run.log_model(model, "model")
        run.log_text(x.head(3).to_json(orient="records"), "model/input_example.json")
    register_model_version(registry, "penguins", run.id)
    yield registry, model, x


def _wait_for(manager: ServerManager, server_id: str, *states: ServerState, timeout=90.0):
    deadline = time.monotonic() + timeout
    while True:
        manager.poll()
        info = manager.get(server_id)
        if info.state in states:
            return info
        assert time.monotonic() < deadline, f"server stuck {info.state}: {info.reason}"
        time.sleep(0.1)


def _gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def test_serve_try_it_and_stop(served_registry, tmp_path: Path) -> None:
    registry, model, x = served_registry
    manager = ServerManager(registry)
    try:
        info = manager.start(ServeRequest("penguins"))
        assert info.state == ServerState.STARTING
        info = _wait_for(manager, info.id, ServerState.READY, ServerState.FAILED)
        assert info.state == ServerState.READY, info.reason
        assert info.url.startswith("http://127.0.0.1:") and info.version == "1"

        rows = try_it.example_rows(registry, "penguins", None)
        assert rows == [x.head(1).to_dict(orient="records")[0]]
        result = try_it.send(info.url, rows)
        assert result.ok, result.body
        expected = model.predict(pd.DataFrame(rows)).tolist()
        assert json.loads(result.body)["predictions"] == expected

        stats = manager.stats(info.id)
        assert stats.get("requests", 0) >= 1

        # The snippets the panel copies work as they stand.
        script = tmp_path / "snippet.py"
        script.write_text(try_it.requests_snippet(info.url, rows))
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == str(expected)
        metadata = try_it.model_metadata(info.url, "penguins")
        assert metadata["name"] == "penguins"
        script.write_text(try_it.tritonclient_snippet(info.url, "penguins", metadata, rows))
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert str(expected[0]) in out.stdout

        pid = info.pid
        stopped = manager.stop(info.id)
        assert stopped.state == ServerState.STOPPED
        assert pid is not None and _gone(pid)
        assert not (registry.root / "servers" / f"{info.id}.json").exists()
    finally:
        manager.shutdown()


def test_a_port_in_use_is_refused_before_anything_starts(served_registry) -> None:
    registry, _model, _x = served_registry
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        manager = ServerManager(registry)
        with pytest.raises(ConflictError, match=f"Port {port} is already in use"):
            manager.start(ServeRequest("penguins", port=port))
        assert manager.servers() == []


def test_a_tampered_model_file_fails_with_the_reason(served_registry) -> None:
    registry, _model, _x = served_registry
    version = registry.get_model_version("penguins", 1)
    path = registry.artifacts.path_for(version.artifact_sha256)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes() + b"tampered")
    manager = ServerManager(registry)
    try:
        info = manager.start(ServeRequest("penguins", ref="1"))
        info = _wait_for(manager, info.id, ServerState.READY, ServerState.FAILED)
        assert info.state == ServerState.FAILED
        assert "SHA-256" in info.reason or "hash" in info.reason.lower(), info.reason
    finally:
        manager.shutdown()


def test_a_standby_server_takes_the_request_and_is_replaced(served_registry) -> None:
    registry, _model, _x = served_registry
    manager = ServerManager(registry, warm_spare=True)
    try:
        manager.keep_spare()
        spare = manager.spare_pid()
        assert spare is not None
        info = manager.start(ServeRequest("penguins", ref="1"))
        assert info.pid == spare
        info = _wait_for(manager, info.id, ServerState.READY, ServerState.FAILED)
        assert info.state == ServerState.READY, info.reason
        assert manager.spare_pid() not in (None, spare)  # a new standby was started
    finally:
        manager.shutdown()
    assert _gone(spare)


def test_servers_kept_running_are_found_by_the_next_session(served_registry) -> None:
    registry, _model, _x = served_registry
    first = ServerManager(registry)
    info = first.start(ServeRequest("penguins"))
    info = _wait_for(first, info.id, ServerState.READY, ServerState.FAILED)
    assert info.state == ServerState.READY, info.reason
    first.shutdown(keep_running=True)
    assert psutil.pid_exists(info.pid)
    time.sleep(1.5)  # longer than the server's parent check: it must not stop on its own

    second = ServerManager(registry)
    try:
        [found] = second.adopt_running()
        assert found.id == info.id and found.adopted
        found = _wait_for(second, found.id, ServerState.READY)
        assert try_it.send(found.url, try_it.example_rows(registry, "penguins", None)).ok
        second.stop(found.id)
    finally:
        second.shutdown()
    assert _gone(info.pid)


def test_a_server_whose_app_was_killed_stops_by_itself(served_registry, tmp_path: Path) -> None:
    registry, _model, _x = served_registry
    app = (
        "import sys, time\n"
        "from desktop_app.registry import Registry\n"
        "from desktop_app.serving.launcher import ServeRequest, ServerManager\n"
        "manager = ServerManager(Registry(sys.argv[1]))\n"
        "info = manager.start(ServeRequest('penguins'))\n"
        "print(info.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", app, str(registry.root)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    server_pid = int(process.stdout.readline())
    process.kill()  # the app crashes
    process.wait()
    assert _gone(server_pid, timeout=30)
