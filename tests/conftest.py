"""Shared fixtures: every test gets its own registry folder and never touches the user's."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from child_processes import live_children

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["MODELDESK_NO_DEMO"] = "1"


@pytest.fixture(autouse=True)
def _isolated_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point every default location at a temporary folder."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("MODELDESK_SETTINGS_DIR", str(home / "settings"))
    # Runs logged by tests must never snapshot the project's own repository.
    (home / "no-workspace").mkdir()
    monkeypatch.setenv("MODELDESK_WORKSPACE", str(home / "no-workspace"))
    monkeypatch.delenv("MODELDESK_REGISTRY", raising=False)
    monkeypatch.delenv("MODELDESK_RUN_ID", raising=False)
    monkeypatch.delenv("MODELDESK_EXPERIMENT", raising=False)


@pytest.fixture
def registry_path(tmp_path: Path) -> Path:
    """A folder for a fresh registry."""
    return tmp_path / "registry"


@pytest.fixture
def registry(registry_path: Path) -> Iterator[Registry]:  # noqa: F821
    """A fresh, open registry."""
    from desktop_app.registry import Registry

    reg = Registry(registry_path)
    yield reg
    reg.close()


def python_script(tmp_path: Path, name: str, body: str) -> Path:
    """Write a script that runs with this interpreter and the project importable."""
    path = tmp_path / name
    path.write_text(body)
    return path


PYTHON = sys.executable


@pytest.fixture(autouse=True, scope="module")
def _no_processes_left_by_the_module() -> Iterator[None]:
    """Fail the module whose tests (or module fixtures) leave child processes running."""
    import time

    sklearn_config = _sklearn_config()
    yield
    after = _sklearn_config()
    if sklearn_config is None and after is not None:
        # Imported by this module: compare the settings that change what fits and predicts.
        sklearn_config = {**after, "assume_finite": False, "skip_parameter_validation": False}
    assert after == sklearn_config, (
        "scikit-learn's global settings were changed and not restored (set_config): later "
        "tests would run with them"
    )
    deadline = time.monotonic() + 10.0
    while live_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    leaked = live_children()
    described = []
    for process in leaked:
        try:
            described.append(f"{process.pid}: {' '.join(process.cmdline())[:200]}")
        except Exception:  # gone meanwhile
            continue
        process.kill()
    assert not described, "processes left running: " + "; ".join(described)


def _sklearn_config() -> dict[str, object] | None:
    """scikit-learn's settings in this thread, if it is imported."""
    module = sys.modules.get("sklearn")
    return None if module is None else dict(module.get_config())
