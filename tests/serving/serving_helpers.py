"""Helpers of the serving tests: real registries, real fitted models, real server processes.

One registry per session holds three registered models: ``bc`` (a scaler + logistic regression
on the breast-cancer matrix, no column names), ``named`` (the same on a DataFrame, so columns
are matched by name) and ``mixed`` (a one-hot encoded text column beside numbers, like the
training runner's pipelines).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from child_processes import SESSION_PROCESS_ENV

READY_TIMEOUT_S = 60.0


@dataclass
class Models:
    """The session's registry and the fitted estimators registered in it."""

    root: Path
    bc: Any
    bc_x: np.ndarray
    named: Any
    named_frame: Any
    mixed: Any
    mixed_frame: Any


def fit_models(root: Path, workspace: Path) -> Models:
    """Fit the three models and register them as version 1 each."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from desktop_app.registry import Registry
    from desktop_app.registry.tracking import start_run

    data = load_breast_cancer(as_frame=True)
    frame, target = data.data, data.target
    x = frame.to_numpy()
    bc = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, target)
    named_frame = frame.iloc[:, :5].rename(columns=lambda c: c.replace(" ", "_"))
    named = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(
        named_frame, target
    )
    rng = np.random.default_rng(0)
    mixed_frame = pd.DataFrame(
        {
            "city": rng.choice(["paris", "lyon", "nice"], 200),
            "size": rng.normal(50, 10, 200).round(2),
            "rooms": rng.integers(1, 6, 200),
        }
    )
    labels = (mixed_frame["city"] == "paris") | (mixed_frame["size"] > 55)
    mixed = make_pipeline(
        ColumnTransformer(
            [
                ("categorical", OneHotEncoder(handle_unknown="ignore"), ["city"]),
                ("numeric", StandardScaler(), ["size", "rooms"]),
            ]
        ),
        LogisticRegression(),
    ).fit(mixed_frame, np.where(labels, "yes", "no"))
    registry = Registry(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELDESK_WORKSPACE", str(workspace))
        patch.delenv("MODELDESK_RUN_ID", raising=False)
        for name, estimator in (("bc", bc), ("named", named), ("mixed", mixed)):
            with start_run(registry=registry, name=name) as run:
                artifact = run.log_model(estimator, "model")
            registry.create_model_version(
                name,
                artifact_sha256=artifact.sha256,
                run_id=run.id,
                artifact_path=artifact.path,
            )
    registry.close()
    return Models(root, bc, x, named, named_frame, mixed, mixed_frame)


def server_env() -> dict[str, str]:
    """The environment of a server process: the project importable, no user folders."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    env.pop("MODELDESK_REGISTRY", None)
    return env


class ServerProcess:
    """A ``modeldesk serve`` (or ``serve-standby``) child process and its first output line."""

    def __init__(self, args: list[str], *, stdin: bool = False, session: bool = False) -> None:
        self.args = args
        env = server_env()
        if session:
            # Shared by the whole test session: the process-leak guards let it live.
            env[SESSION_PROCESS_ENV] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "desktop_app", *args],
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.line = ""
        self.url = ""

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> str:
        """The first stdout line (``Ready: ...``); fails the test if none comes."""
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()))  # type: ignore[union-attr]
        reader.daemon = True
        reader.start()
        reader.join(timeout)
        self.line = box[0].strip() if box else ""
        if not self.line.startswith("Ready: "):
            self.stop()
            pytest.fail(f"server not ready: {self.line!r}; stderr: {self.stderr()[-2000:]}")
        self.url = self.line.split()[1]
        return self.line

    def stderr(self) -> str:
        """What the process wrote on stderr (after it ended)."""
        if self.proc.poll() is None:
            return ""
        return self.proc.stderr.read() if self.proc.stderr else ""  # type: ignore[union-attr]

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait; return the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def run_to_end(self, timeout: float = READY_TIMEOUT_S) -> tuple[int, str, str]:
        """Wait for a process expected to stop by itself: exit code, stdout, stderr."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return self.proc.returncode, out, err


def serve_args(models: Models, ref: str, *extra: str) -> list[str]:
    """``serve REF --registry ROOT --port 0 ...``."""
    return ["serve", ref, "--registry", str(models.root), "--port", "0", *extra]


def assert_alive(url: str) -> None:
    """The server still answers its health checks and predicts."""
    assert requests.get(f"{url}/v2/health/live", timeout=10).status_code == 200
    assert requests.get(f"{url}/ping", timeout=10).status_code == 200


def json_of(response: requests.Response) -> Any:
    """The JSON body, asserting the content type says JSON."""
    assert response.headers["content-type"].startswith("application/json"), response.headers
    return json.loads(response.content)
