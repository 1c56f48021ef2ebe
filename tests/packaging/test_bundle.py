"""The frozen app as users get it: build the bundle and the .deb, then use them for real.

The first test builds with ``packaging/build.py package`` (PyInstaller, a few minutes on a
clean clone); later runs reuse the bundle while its inputs are unchanged. Every process here
is the frozen ``modeldesk`` executable, and the training worker, the user's script and the
model server are its children, started through it as a frozen build starts them.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app import __version__

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "packaging" / "build.py"
APP_ID = "io.modeldesk.ModelDesk"
BUILD_TIMEOUT_S = 1500
RUN_TIMEOUT_S = 240

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(BUILD_TIMEOUT_S + 300),
    pytest.mark.skipif(
        not sys.platform.startswith("linux") or shutil.which("dpkg-deb") is None,
        reason="the bundle and the .deb are built on Debian-like Linux",
    ),
]


@pytest.fixture(scope="module")
def built() -> tuple[Path, Path]:
    """The bundle folder and the .deb (built once, or reused when up to date)."""
    result = subprocess.run(
        [sys.executable, str(BUILD), "package"],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    deb = Path(result.stdout.strip().splitlines()[-1])
    return ROOT / "packaging" / "dist" / "modeldesk", deb


@pytest.fixture
def exe(built: tuple[Path, Path]) -> Path:
    """The frozen ``modeldesk`` executable."""
    return built[0] / "modeldesk"


@pytest.fixture
def env() -> dict[str, str]:
    """The test's isolated environment, headless, without the first-start demo."""
    return dict(os.environ, QT_QPA_PLATFORM="offscreen", MODELDESK_NO_DEMO="1")


def run(exe: Path, env: dict[str, str], *args: str, cwd: Path | None = None) -> str:
    """Run the frozen app to its end; return its stdout (the test fails on a non-zero exit)."""
    result = subprocess.run(
        [str(exe), *args], capture_output=True, text=True, env=env, timeout=RUN_TIMEOUT_S, cwd=cwd
    )
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result.stdout


def penguins_job(folder: Path) -> Path:
    """A small classification job on a CSV table."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["bill,flipper,species"]
    for i in range(60):
        kind = ("adelie", "gentoo", "chinstrap")[i % 3]
        base = {"adelie": 38.0, "gentoo": 47.0, "chinstrap": 49.0}[kind]
        rows.append(f"{base + (i % 7) * 0.3:.1f},{180 + (i % 3) * 15 + i % 5},{kind}")
    (folder / "penguins.csv").write_text("\n".join(rows) + "\n")
    job = folder / "job.toml"
    job.write_text(
        textwrap.dedent(
            """\
            experiment = "penguins"
            [data]
            path = "penguins.csv"
            target = "species"
            [model]
            estimator = "RandomForestClassifier"
            params = { n_estimators = 10, random_state = 0 }
            [split]
            kind = "kfold"
            folds = 3
            seed = 0
            """
        )
    )
    return job


class Server:
    """``modeldesk serve`` in the background, its stdout read line by line."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.ready = threading.Event()
        self.url = ""
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            match = re.match(r"Ready: (\S+)", line)
            if match:
                self.url = match.group(1)
                self.ready.set()

    def stop(self) -> int:
        """SIGTERM, then the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


def test_version_and_doctor_in_the_bundle(exe: Path, env: dict[str, str]) -> None:
    assert run(exe, env, "--version").strip() == f"modeldesk {__version__}"
    report = json.loads(run(exe, env, "doctor", "--json"))
    info = report["diagnostics"]
    assert info["frozen"] is True
    assert Path(info["executable"]).resolve() == exe.resolve()
    # Package metadata travels in the bundle, so About and doctor name real versions.
    assert info["packages"]["scikit-learn"] == importlib.metadata.version("scikit-learn")
    assert info["packages"]["PySide6"] == importlib.metadata.version("PySide6_Essentials")
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["Git"]["status"] == "OK"
    assert checks["Ports"]["status"] == "OK"
    assert checks["Qt platform"]["status"] in ("OK", "WARN")  # WARN: no display here
    assert report["ok"] is True


def test_train_through_a_worker_then_serve_a_prediction(
    exe: Path, env: dict[str, str], tmp_path: Path
) -> None:
    registry = tmp_path / "registry"
    job = penguins_job(tmp_path / "job")
    run_id = run(exe, env, "--registry", str(registry), "train", str(job)).splitlines()[-1]
    shown = json.loads(run(exe, env, "--registry", str(registry), "runs", "show", run_id, "--json"))
    assert shown["status"] == "FINISHED"
    assert shown["metrics"]["accuracy"]["last"] > 0.9
    run(exe, env, "--registry", str(registry), "models", "register", run_id, "--name", "penguins")

    server = Server(
        [str(exe), "--registry", str(registry), "serve", "penguins", "--port", "0"], env
    )
    try:
        assert server.ready.wait(120), "".join(server.output) + server.process.stderr.read()
        assert server.url.startswith("http://127.0.0.1:")
        body = {"dataframe_split": {"columns": ["bill", "flipper"], "data": [[38.3, 181]]}}
        request = urllib.request.Request(
            server.url + "/invocations",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        assert answer == {"predictions": ["adelie"]}
    finally:
        code = server.stop()
    assert code == 0, server.process.stderr.read()


def test_a_script_job_runs_on_the_bundled_interpreter(
    exe: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """``run-script``: the user's script, tracking, stdlib, scikit-learn and loky processes."""
    folder = tmp_path / "script"
    folder.mkdir()
    (folder / "train.py").write_text(
        textwrap.dedent(
            """\
            import statistics
            import sys

            import distributed
            import optuna
            import pandas as pd
            from joblib import Parallel, delayed
            from sklearn.datasets import load_iris
            from sklearn.linear_model import LogisticRegression
            from sklearn.model_selection import cross_val_score

            from desktop_app import tracking


            def square(x):
                return x * x


            if __name__ == "__main__":
                squares = Parallel(n_jobs=2, backend="loky")(delayed(square)(i) for i in range(4))
                X, y = load_iris(return_X_y=True)
                scores = cross_val_score(LogisticRegression(max_iter=500), X, y, cv=3, n_jobs=2)
                # Parquet (pyarrow), sweeps (optuna) and the Dask client load in the bundle.
                pd.DataFrame({"a": squares}).to_parquet("squares.parquet")
                total = int(pd.read_parquet("squares.parquet")["a"].sum())
                with tracking.start_run() as run:
                    run.log_metric("mean_square", statistics.mean(squares))
                    run.log_metric("cv_accuracy", float(scores.mean()))
                    run.log_metric("parquet_total", total)
                    run.log_params(
                        {"frozen": getattr(sys, "frozen", False), "optuna": optuna.__version__}
                    )
                print("trained", distributed.Client.__name__)
            """
        )
    )
    (folder / "job.toml").write_text('experiment = "scripts"\n[script]\npath = "train.py"\n')
    registry = tmp_path / "registry"
    out = run(exe, env, "--registry", str(registry), "train", str(folder / "job.toml"))
    assert "trained Client" in out
    run_id = out.splitlines()[-1]
    shown = json.loads(run(exe, env, "--registry", str(registry), "runs", "show", run_id, "--json"))
    assert shown["status"] == "FINISHED"
    assert shown["params"]["frozen"] == "True"
    assert shown["metrics"]["mean_square"]["last"] == 3.5
    assert shown["metrics"]["cv_accuracy"]["last"] > 0.9
    assert shown["metrics"]["parquet_total"]["last"] == 14
    assert shown["params"]["optuna"] == importlib.metadata.version("optuna")


GUI_SCRIPT = """\
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

app = QApplication(sys.argv[:1])
from desktop_app.ui import app as desktop


def close_main_window():
    (window,) = [w for w in app.topLevelWidgets() if type(w).__name__ == "MainWindow"]
    window.grab().save(sys.argv[2])
    print("shown:", window.windowTitle(), window.isVisible(), flush=True)
    window.close()


QTimer.singleShot(2000, close_main_window)
sys.exit(desktop.main(sys.argv[1]))
"""


def test_the_window_opens_offscreen_and_quits(
    exe: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """The app's own start-up code, in the bundle, with a timer that closes the window."""
    registry = tmp_path / "registry"
    script = tmp_path / "gui.py"
    script.write_text(GUI_SCRIPT)
    screenshot = tmp_path / "window.png"
    out = run(exe, env, "run-script", str(script), str(registry), str(screenshot))
    assert f"shown: ModelDesk — {registry} True" in out
    assert screenshot.stat().st_size > 10_000
    assert (registry / "registry.db").is_file()


def test_the_real_entry_point_keeps_its_window_up(
    exe: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """``modeldesk --registry R``: up for 3 s (a broken start exits at once), then SIGTERM."""
    registry = tmp_path / "registry"
    process = subprocess.Popen(
        [str(exe), "--registry", str(registry)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=3)
        assert (registry / "registry.db").is_file()
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    # The app has no SIGTERM handler yet, so the default action ends it (-15); either way,
    # nothing went wrong while it ran.
    assert process.returncode in (0, -signal.SIGTERM), stderr
    assert "Traceback" not in stderr and "qt.qpa.plugin" not in stderr, stderr


# ---- the .deb and the per-user install -------------------------------------------------------


def dpkg_listing(deb: Path) -> dict[str, tuple[str, str]]:
    """``dpkg-deb -c``: each path's mode and owner (and ``-> target`` for links)."""
    out = subprocess.run(
        ["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    listing = {}
    for line in out.splitlines():
        mode, owner, _size, _date, _time, rest = line.split(maxsplit=5)
        listing[rest] = (mode, owner)
    return listing


def test_the_deb_control_fields(built: tuple[Path, Path]) -> None:
    deb = built[1]
    info = subprocess.run(
        ["dpkg-deb", "-I", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    assert " Package: modeldesk" in info
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert deb.name == f"modeldesk_{__version__}_{arch}.deb"

    def field(name: str) -> str:
        return subprocess.run(
            ["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True
        ).stdout.strip()

    assert field("Version") == __version__
    assert field("Architecture") == arch
    assert "@" in field("Maintainer")
    depends = [d.split()[0] for d in field("Depends").split(", ")]
    for needed in (
        "libgl1",
        "libegl1",
        "fontconfig-config",
        "fonts-dejavu-core",
        "libxkbcommon0",
        "libxcb-cursor0",
        "libxcb1",
    ):
        assert needed in depends
    assert "git" in field("Recommends")
    assert field("Description").startswith("run the whole life of a machine-learning model")
    assert int(field("Installed-Size")) > 100_000
    # zstd-compressed members (the ar archive names them).
    assert b"data.tar.zst" in deb.read_bytes()[:1024]


def test_the_deb_contents(built: tuple[Path, Path]) -> None:
    listing = dpkg_listing(built[1])
    assert listing["./opt/modeldesk/modeldesk"] == ("-rwxr-xr-x", "root/root")
    assert "./usr/bin/modeldesk -> /opt/modeldesk/modeldesk" in listing
    assert f"./usr/share/applications/{APP_ID}.desktop" in listing
    for size, suffix in (("scalable", "svg"), ("48x48", "png"), ("128x128", "png")):
        assert f"./usr/share/icons/hicolor/{size}/apps/{APP_ID}.{suffix}" in listing
    assert f"./usr/share/icons/hicolor/256x256/apps/{APP_ID}.png" in listing
    platforms = "./opt/modeldesk/_internal/PySide6/Qt/plugins/platforms/"
    kept = {p.removeprefix(platforms) for p in listing if p.startswith(platforms)} - {""}
    assert {"libqxcb.so", "libqoffscreen.so", "libqwayland.so"} <= kept
    assert not {"libqeglfs.so", "libqvnc.so", "libqlinuxfb.so"} & kept
    paths = "\n".join(listing)
    for left_out in ("pyqtgraph/opengl", "QtQml", "QtQuick", "/pytest", "/mlflow", "/_pytest"):
        assert left_out not in paths


def test_the_deb_desktop_entry_and_payload(built: tuple[Path, Path], tmp_path: Path) -> None:
    subprocess.run(["dpkg-deb", "-x", str(built[1]), str(tmp_path)], check=True)
    entry = tmp_path / "usr" / "share" / "applications" / f"{APP_ID}.desktop"
    text = entry.read_text()
    assert "\nExec=modeldesk\n" in text and f"\nIcon={APP_ID}\n" in text
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(
            ["desktop-file-validate", str(entry)], capture_output=True, text=True
        )
        assert check.returncode == 0 and not check.stdout.strip(), check.stdout
    payload = tmp_path / "opt" / "modeldesk" / "modeldesk"
    out = subprocess.run([str(payload), "--version"], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == f"modeldesk {__version__}"


@pytest.fixture
def user_prefix(tmp_path: Path) -> Iterator[Path]:
    """A prefix standing in for ~/.local; uninstalled afterwards."""
    prefix = tmp_path / "local"
    yield prefix
    subprocess.run([sys.executable, str(BUILD), "uninstall-user", "--prefix", str(prefix)])


def test_install_user_and_uninstall(
    built: tuple[Path, Path], user_prefix: Path, env: dict[str, str]
) -> None:
    result = subprocess.run(
        [sys.executable, str(BUILD), "install-user", "--reuse", "--prefix", str(user_prefix)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    launcher = user_prefix / "bin" / "modeldesk"
    assert launcher.is_symlink()
    assert run(launcher, env, "--version").strip() == f"modeldesk {__version__}"
    entry = user_prefix / "share" / "applications" / f"{APP_ID}.desktop"
    assert f"\nExec={launcher}\n" in entry.read_text()
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(
            ["desktop-file-validate", str(entry)], capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout
    icons = user_prefix / "share" / "icons" / "hicolor"
    assert (icons / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
    assert (icons / "256x256" / "apps" / f"{APP_ID}.png").is_file()

    subprocess.run(
        [sys.executable, str(BUILD), "uninstall-user", "--prefix", str(user_prefix)], check=True
    )
    assert not launcher.exists() and not launcher.is_symlink()
    assert not entry.exists()
    assert not (user_prefix / "opt" / "modeldesk").exists()
