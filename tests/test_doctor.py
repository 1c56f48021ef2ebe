"""``desktop_app.diagnostics`` and ``modeldesk doctor``: each check's OK and problem, exit codes."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from desktop_app import __version__, diagnostics
from desktop_app.cli import cli
from desktop_app.diagnostics import Status
from desktop_app.registry import Registry


def doctor(*args: str) -> Result:
    """Run ``modeldesk doctor`` in-process."""
    return CliRunner().invoke(cli, [*args, "doctor"])


@pytest.fixture
def filled_registry(registry: Registry) -> Registry:
    """A registry with one run and one artifact file."""
    run = registry.create_run("exp", name="r")
    registry.log_artifact_bytes(run.id, b"hello", "notes.txt")
    return registry


def by_name(checks: list[diagnostics.Check]) -> dict[str, diagnostics.Check]:
    return {c.name: c for c in checks}


# ---- diagnostics -----------------------------------------------------------------------------


def test_gather_names_versions_paths_without_importing_sklearn(registry_path: Path) -> None:
    code = (
        "import sys; from desktop_app import diagnostics\n"
        f"info = diagnostics.gather({str(registry_path)!r})\n"
        "print(info.packages['scikit-learn']); print('sklearn' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    import sklearn

    assert out == [sklearn.__version__, "False"]


def test_diagnostics_text_has_versions_platform_and_paths(registry_path: Path) -> None:
    info = diagnostics.gather(registry_path, extra={"Qt": "6.9.9"}, settings="/x/ModelDesk.ini")
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in info.as_text().splitlines())
    assert rows["ModelDesk"] == f"{__version__} (from source)"
    assert rows["Qt"] == "6.9.9"
    assert rows["scikit-learn"] == importlib.metadata.version("scikit-learn")
    assert rows["pyqtgraph"] == importlib.metadata.version("pyqtgraph")
    assert rows["Registry"] == str(registry_path)
    assert rows["Settings"] == "/x/ModelDesk.ini"
    assert rows["Data folder"] == str(Path(os.environ["XDG_DATA_HOME"]) / "ModelDesk")
    assert rows["Executable"] == sys.executable
    assert rows["Python"].startswith("3.")
    assert rows["Platform"]
    assert not info.frozen
    assert info.as_dict()["packages"]["Qt"] == "6.9.9"


def test_settings_file_follows_the_settings_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELDESK_SETTINGS_DIR", str(tmp_path))
    assert diagnostics.settings_file() == tmp_path / "ModelDesk.ini"
    monkeypatch.delenv("MODELDESK_SETTINGS_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    if sys.platform.startswith("linux"):
        assert diagnostics.settings_file() == tmp_path / "cfg" / "ModelDesk" / "ModelDesk.conf"


def test_package_version_tries_each_name() -> None:
    assert diagnostics.package_version("no-such-dist-xyz") is None
    assert diagnostics.package_version("no-such-dist-xyz", "click") is not None


# ---- checks ----------------------------------------------------------------------------------


def test_a_healthy_registry_passes(filled_registry: Registry) -> None:
    checks = by_name(diagnostics.check_registry(filled_registry.root, explicit=True))
    assert checks["Registry"].status == Status.OK
    assert "1 runs" in checks["Registry"].detail
    assert checks["Integrity"].status == Status.OK


def test_a_damaged_artifact_fails_integrity_with_a_fix(filled_registry: Registry) -> None:
    artifact = filled_registry.list_artifacts(filled_registry.search_runs("")[0])[0]
    path = filled_registry.artifact_file(artifact)
    path.chmod(stat.S_IWUSR | stat.S_IRUSR)
    path.write_bytes(b"tampered")
    integrity = by_name(diagnostics.check_registry(filled_registry.root, explicit=True))[
        "Integrity"
    ]
    assert integrity.failed
    assert "does not match its SHA-256" in integrity.detail
    assert "registry check" in integrity.fix


def test_a_missing_explicit_registry_fails(tmp_path: Path) -> None:
    (check,) = diagnostics.check_registry(tmp_path / "nope", explicit=True)
    assert check.failed and "nope" in check.detail and check.fix


def test_the_default_registry_may_not_exist_yet() -> None:
    (check,) = diagnostics.check_registry(None, explicit=False)
    assert check.status == Status.OK
    assert "creates it on first start" in check.detail


def test_git_found_and_versioned() -> None:
    check = diagnostics.check_git()
    assert check.status == Status.OK, check
    assert "version 2." in check.detail


def test_git_missing_or_broken_or_old(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GIT_PYTHON_GIT_EXECUTABLE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    missing = diagnostics.check_git()
    assert missing.failed and "not on PATH" in missing.detail and "apt install git" in missing.fix

    fake = tmp_path / "git"
    fake.write_text("#!/bin/sh\necho 'git version 1.8.3'\n")
    fake.chmod(0o755)
    old = diagnostics.check_git()
    assert old.failed and "1.8.3" in old.detail

    fake.write_text("#!/bin/sh\nexit 3\n")
    assert "does not run" in diagnostics.check_git().detail


def test_ports_and_writable_folders(tmp_path: Path) -> None:
    assert diagnostics.check_ports().status == Status.OK
    assert diagnostics.check_writable("X", tmp_path).status == Status.OK
    later = diagnostics.check_writable("X", tmp_path / "a" / "b")
    assert later.status == Status.OK and "to be created in" in later.detail


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_folder_fails(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        check = diagnostics.check_writable("Registry folder", tmp_path)
    finally:
        tmp_path.chmod(0o700)
    assert check.failed and "chmod u+w" in check.fix


def test_an_unwritable_folder_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(diagnostics.tempfile, "NamedTemporaryFile", refuse)
    check = diagnostics.check_writable("Data folder", tmp_path)
    assert check.failed
    assert "Permission denied" in check.detail and "chmod u+w" in check.fix


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xcb is Linux's")
def test_qt_platform_names_the_missing_debian_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":0")
    assert diagnostics.qt_platform_plugin("xcb") is not None
    assert diagnostics.check_qt_platform().status == Status.OK
    monkeypatch.setattr(
        diagnostics, "missing_libraries", lambda binary: ["libxcb-cursor.so.0", "libfoo.so.1"]
    )
    check = diagnostics.check_qt_platform()
    assert check.failed
    assert check.fix == "sudo apt install libfoo.so.1 libxcb-cursor0"


def test_no_display_is_only_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(diagnostics, "missing_libraries", lambda binary: [])
    check = diagnostics.check_qt_platform()
    if sys.platform.startswith("linux"):
        assert check.status == Status.WARNING and not check.failed


# ---- the command -----------------------------------------------------------------------------


def test_doctor_passes_on_a_healthy_setup(
    filled_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPLAY", ":0")
    result = doctor("--registry", str(filled_registry.root))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"ModelDesk {__version__} (from source), Python 3.")
    names = [line.split()[1] for line in lines[2:] if line and not line.startswith(" ")]
    assert names == ["Registry", "Integrity", "Registry", "Data", "Git", "Ports", "Qt"]
    assert all(line.startswith(("OK ", " ")) for line in lines[2:])


def test_doctor_fails_with_the_fix_and_exit_1(tmp_path: Path) -> None:
    result = doctor("--registry", str(tmp_path / "missing"))
    assert result.exit_code == 1
    assert "FAIL  Registry" in result.stdout
    assert "Fix: Check the path" in result.stdout
    assert result.stderr.strip() == "Error: 1 check(s) failed: Registry."


def test_doctor_json(filled_registry: Registry) -> None:
    result = CliRunner().invoke(cli, ["doctor", "--json", "--registry", str(filled_registry.root)])
    data = json.loads(result.stdout)
    assert data["ok"] is (result.exit_code == 0)
    assert data["diagnostics"]["version"] == __version__
    assert data["diagnostics"]["registry"] == str(filled_registry.root)
    assert {c["name"] for c in data["checks"]} >= {"Registry", "Integrity", "Git", "Ports"}
    assert {c["status"] for c in data["checks"]} <= {"OK", "WARN", "FAIL"}
