"""The server as a process: start-up failures, the token, stopping, standby, recording, docs."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import requests

from desktop_app.registry import Registry
from tests.serving.serving_helpers import (
    Models,
    ServerProcess,
    assert_alive,
    json_of,
    serve_args,
    server_env,
)

ROW = [0.5] * 30


def _wait_until(predicate, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_tampered_model_file_is_refused(models: Models, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(models.root, root)
    with Registry(root) as registry:
        version = registry.get_model_version("bc", 1)
    blob = root / "artifacts" / version.artifact_sha256[:2] / version.artifact_sha256
    blob.write_bytes(blob.read_bytes() + b"tampered")
    server = ServerProcess(["serve", "bc:1", "--registry", str(root), "--port", "0"])
    code, out, err = server.run_to_end()
    assert code == 1 and "Ready" not in out
    assert err.startswith("Error: ") and "SHA-256" in err and len(err.strip().splitlines()) == 1


def test_unknown_model_is_one_line_error(models: Models) -> None:
    code, _out, err = ServerProcess(serve_args(models, "nope")).run_to_end()
    assert code == 1 and err.startswith("Error: ") and "nope" in err


def test_port_in_use_exits_3_with_advice(models: Models) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = ["serve", "bc", "--registry", str(models.root), "--port", str(port)]
        code, _out, err = ServerProcess(args).run_to_end()
    assert code == 3
    assert f"Port {port}" in err and "--port" in err and len(err.strip().splitlines()) == 1


def test_other_address_needs_a_token(models: Models) -> None:
    code, _out, err = ServerProcess(serve_args(models, "bc", "--host", "0.0.0.0")).run_to_end()
    assert code == 2 and "--token" in err


def test_token_is_required_on_every_request(models: Models, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    server = ServerProcess(
        serve_args(models, "bc", "--token", "s3cret", "--state-file", str(state_file))
    )
    server.wait_ready()
    try:
        assert json.loads(state_file.read_text())["token_required"] is True
        response = requests.get(server.url + "/v2/health/ready")
        assert response.status_code == 401 and json_of(response)["error"]
        response = requests.post(server.url + "/invocations", json={"instances": [ROW]})
        assert response.status_code == 401 and json_of(response)["error_code"]
        wrong = {"Authorization": "Bearer nope"}
        assert requests.get(server.url + "/ping", headers=wrong).status_code == 401
        good = {"Authorization": "Bearer s3cret"}
        response = requests.post(
            server.url + "/invocations", json={"instances": [ROW]}, headers=good
        )
        assert response.status_code == 200
    finally:
        assert server.stop() == 0


def test_sigterm_finishes_in_flight_requests(models: Models, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    server = ServerProcess(serve_args(models, "bc:1", "--state-file", str(state_file)))
    line = server.wait_ready()
    assert line.endswith("(bc v1)") and server.url.startswith("http://127.0.0.1:")
    state = json.loads(state_file.read_text())
    assert (
        state["state"] == "ready" and state["url"] == server.url and state["pid"] == server.proc.pid
    )
    assert state["model"] == "bc" and state["version"] == "1" and state["alias"] is None
    # A request in flight: headers and half of the body sent when the signal arrives.
    body = json.dumps({"instances": [ROW] * 2000}).encode()
    parts = urlsplit(server.url)
    conn = socket.create_connection((parts.hostname, parts.port), timeout=60)
    conn.sendall(
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body[:1000]
    )
    assert requests.get(server.url + "/ping").status_code == 200
    server.proc.send_signal(signal.SIGTERM)
    assert _wait_until(lambda: json.loads(state_file.read_text())["state"] == "stopping")
    conn.sendall(body[1000:])
    response = conn.makefile("rb").read()
    conn.close()
    assert response.startswith(b"HTTP/1.1 200")
    assert len(json.loads(response.split(b"\r\n\r\n", 1)[1])["predictions"]) == 2000
    assert server.proc.wait(60) == 0
    assert not state_file.exists()


def test_server_stops_when_its_parent_dies(models: Models, tmp_path: Path) -> None:
    pid_file = tmp_path / "server.pid"
    # The parent starts the server with its own PID as --parent-pid, then waits to be killed.
    script = (
        "import os, subprocess, sys, time\n"
        f"args = {[sys.executable, '-m', 'desktop_app', *serve_args(models, 'bc')]!r}\n"
        "args += ['--parent-pid', str(os.getpid())]\n"
        "p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,"
        " start_new_session=True, text=True)\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "print(p.stdout.readline().strip(), flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=server_env()
    )
    try:
        ready = parent.stdout.readline()  # type: ignore[union-attr]
        assert ready.startswith("Ready: "), ready
        server = psutil.Process(int(pid_file.read_text()))
        url = ready.split()[1]
        assert requests.get(url + "/ping").status_code == 200
        parent.kill()
        parent.wait()
        assert _wait_until(lambda: not server.is_running() or server.status() == "zombie")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if pid_file.exists() and psutil.pid_exists(int(pid_file.read_text())):
            psutil.Process(int(pid_file.read_text())).kill()


def test_standby_serves_after_its_configuration_line(models: Models, tmp_path: Path) -> None:
    state_file = tmp_path / "standby.json"
    standby = ServerProcess(["serve-standby", "--registry", str(models.root)], stdin=True)
    config = {
        "model": "bc",
        "ref": "1",
        "host": "127.0.0.1",
        "port": 0,
        "token": None,
        "parent_pid": None,
        "state_file": str(state_file),
        "detach_file": None,
        "max_body_mb": 1,
        "record_fraction": 0,
    }
    standby.proc.stdin.write(json.dumps(config) + "\n")  # type: ignore[union-attr]
    standby.proc.stdin.flush()  # type: ignore[union-attr]
    line = standby.wait_ready()
    try:
        assert line.endswith("(bc v1)")
        assert json.loads(state_file.read_text())["state"] == "ready"
        response = requests.post(standby.url + "/invocations", json={"instances": [ROW] * 10_000})
        assert response.status_code == 413  # the 1 MiB limit of the configuration line
        assert_alive(standby.url)
    finally:
        assert standby.stop() == 0


def test_standby_exits_quietly_on_eof(models: Models) -> None:
    standby = ServerProcess(["serve-standby", "--registry", str(models.root)], stdin=True)
    standby.proc.stdin.close()  # type: ignore[union-attr]
    standby.proc.stdin = None
    code, out, err = standby.run_to_end()
    assert (code, out, err) == (0, "", "")


def test_recording_stats_metrics_and_docs(
    models: Models, servers: dict[str, ServerProcess]
) -> None:
    url = servers["named"].url  # the session's server: counts are taken as differences
    before = json_of(requests.get(url + "/modeldesk/stats"))
    frame = models.named_frame.iloc[:3]
    state = requests.put(url + "/modeldesk/recording", json={"enabled": True, "fraction": 1.0})
    assert json_of(state)["enabled"] is True
    for _ in range(4):
        body = {"dataframe_split": frame.to_dict(orient="split")}
        assert requests.post(url + "/invocations", json=body).status_code == 200
    requests.post(url + "/invocations", json={"instances": [[1.0]]})
    assert requests.put(url + "/modeldesk/recording", json={"enabled": False}).ok

    stats = json_of(requests.get(url + "/modeldesk/stats"))
    assert stats["requests"] - before["requests"] == 5
    assert stats["errors"] - before["errors"] == 1
    assert stats["model"] == "named" and stats["version"] == "1"
    assert stats["latency_ms"]["p50"] > 0 and stats["rps_1m"] > 0
    metrics = requests.get(url + "/metrics").text
    assert 'modeldesk_requests_total{method="POST",path="/invocations",status="200"}' in metrics
    assert "modeldesk_request_duration_seconds_bucket" in metrics

    with Registry(models.root) as registry:
        assert _wait_until(lambda: registry.count_recorded_inputs("named", 1) == 12)
        rows = registry.list_recorded_inputs("named", 1)
    assert rows[0].row == {k: float(v) for k, v in frame.iloc[0].items()}
    assert rows[0].model_name == "named" and rows[0].version == 1

    document = json_of(requests.get(url + "/openapi.json"))
    assert document["openapi"].startswith("3.")
    assert "/invocations" in document["paths"] and "/v2/models/named/infer" in document["paths"]
    page = requests.get(url + "/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "openapi.json" in page.text and "<script src" not in page.text
    assert "https://" not in page.text
