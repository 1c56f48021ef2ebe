"""The command line as a user sees it: output, JSON, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import types
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from desktop_app import __version__, tracking
from desktop_app.__main__ import main
from desktop_app.cli import cli, format_bytes, format_duration, format_float
from desktop_app.cli_runs import parse_list_query, referenced_refs
from desktop_app.registry import Registry, RunStatus

NOTE_TEXT = "a note only this run stores\n" * 200


def _strict_loads(text: str) -> object:
    def refuse(name: str) -> object:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def runs(registry_path: Path) -> dict[str, str]:
    """A registry with four runs in two experiments; returns run name -> id."""
    path = str(registry_path)
    ids = {}
    with tracking.start_run(
        experiment="e", name="forest", registry=path, params={"model": "rf", "depth": 5}
    ) as run:
        run.log_metric("acc", 0.8)
        run.log_metric("acc", 0.95)
        run.log_metric("f1", 0.7)
        run.log_text(NOTE_TEXT, "notes.txt")
        run.set_note("the best forest")
        ids["forest"] = run.id
    with tracking.start_run(
        experiment="e", name="svm", registry=path, params={"model": "svm", "depth": 0}
    ) as run:
        run.log_metric("acc", 0.85)
        run.log_metric("f1", 0.9)
        ids["svm"] = run.id
    with tracking.start_run(
        experiment="e", name="odd", registry=path, params={"model": "rf", "depth": 9}
    ) as run:
        run.log_metric("acc", 0.99)
        run.log_metric("loss", float("nan"))
        run.log_metric("gain", float("inf"))
        run.log_metric("drop", float("-inf"))
        ids["odd"] = run.id
    with tracking.start_run(experiment="other", name="lonely", registry=path) as run:
        run.log_metric("acc", 0.5)
        ids["lonely"] = run.id
    return ids


def invoke(registry_path: Path, *args: str, input: str | None = None) -> Result:
    """Run the CLI in-process against ``registry_path`` with an 80-column terminal."""
    runner = CliRunner()
    return runner.invoke(
        cli, ["--registry", str(registry_path), *args], input=input, env={"COLUMNS": "80"}
    )


def assert_one_line_error(result: Result, code: int = 1, contains: str = "") -> str:
    """The command failed with ``code`` and exactly one ``Error:`` line on stderr."""
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert contains in lines[0]
    assert "Traceback" not in result.output
    return lines[0]


def list_ids(registry_path: Path, *args: str) -> list[str]:
    """Ids printed by ``runs list --json`` with extra arguments."""
    result = invoke(registry_path, "runs", "list", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return [run["id"] for run in _strict_loads(result.stdout)]  # type: ignore[union-attr]


# ---- formatting helpers ----------------------------------------------------------------------


def test_human_units() -> None:
    assert format_duration(5) == "5s"
    assert format_duration(65) == "1m 05s"
    assert format_duration(2 * 3600 + 3 * 60) == "2h 03m"
    assert format_duration(None) == "-"
    assert format_float(0.123456) == "0.1235"
    assert format_float(12345.6) == "1.235e+04"
    assert format_float(float("nan")) == "nan"
    assert format_float(float("-inf")) == "-inf"
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(3 * 1024**3) == "3.0 GiB"


def test_columns_follow_the_order_by_then_the_filter() -> None:
    where, order = parse_list_query('metrics.acc > 0.9 and params.model = "rf"', "metrics.f1 desc")
    refs = referenced_refs(order, where)
    assert [(r.kind, r.key) for r in refs] == [
        ("metric", "f1"),
        ("metric", "acc"),
        ("param", "model"),
    ]


# ---- runs list -------------------------------------------------------------------------------


def test_list_shows_newest_first_with_metric_columns(
    registry_path: Path, runs: dict[str, str]
) -> None:
    result = invoke(registry_path, "runs", "list")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    header = lines[0].split()
    assert header[:6] == ["ID", "NAME", "EXPERIMENT", "STATUS", "STARTED", "DURATION"]
    assert "acc" in header
    assert [line.split()[1] for line in lines[1:]] == ["lonely", "odd", "svm", "forest"]
    forest = next(line for line in lines if line.startswith(runs["forest"]))
    assert "FINISHED" in forest and "0.95" in forest
    assert all(len(line) <= 80 for line in lines)
    assert result.stderr == ""


def test_filter_and_order_by(registry_path: Path, runs: dict[str, str]) -> None:
    ids = list_ids(registry_path, "--filter", "metrics.acc > 0.9", "--order-by", "metrics.acc")
    assert ids == [runs["forest"], runs["odd"]]
    ids = list_ids(
        registry_path, "--filter", 'params.model = "rf"', "--order-by", "metrics.acc desc"
    )
    assert ids == [runs["odd"], runs["forest"]]
    result = invoke(
        registry_path, "runs", "list", "-f", 'params.model = "rf"', "-o", "metrics.f1 desc"
    )
    assert result.exit_code == 0, result.stderr
    header = result.stdout.splitlines()[0].split()
    assert header[6:8] == ["f1", "model"]
    result = invoke(registry_path, "runs", "list", "-o", "metrics.acc.min", "-e", "e")
    assert result.stdout.splitlines()[0].split()[5] == "acc.min"


def test_experiment_limit_and_all(registry_path: Path, runs: dict[str, str]) -> None:
    assert list_ids(registry_path, "--experiment", "other") == [runs["lonely"]]
    assert len(list_ids(registry_path, "-e", "other", "-e", "e")) == 4
    result = invoke(registry_path, "runs", "list", "--limit", "2")
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 3
    assert "first 2 of 4 matching runs" in result.stderr
    assert len(list_ids(registry_path, "--limit", "1", "--all")) == 4
    one_experiment = invoke(registry_path, "runs", "list", "-e", "other")
    assert "EXPERIMENT" not in one_experiment.stdout
    assert_one_line_error(
        invoke(registry_path, "runs", "list", "-e", "nope"), contains="No experiment 'nope'"
    )
    assert_one_line_error(invoke(registry_path, "runs", "list", "--limit", "0"), code=2)


def test_bad_filter_reports_the_column(registry_path: Path, runs: dict[str, str]) -> None:
    result = invoke(registry_path, "runs", "list", "--filter", "metrics.acc > 0.9 and")
    line = assert_one_line_error(result)
    assert line == "Error: column 19: expected a condition after 'and'"
    assert result.stdout == ""
    result = invoke(registry_path, "runs", "list", "--order-by", "metrics.acc sideways")
    line = assert_one_line_error(result)
    assert line.startswith("Error: --order-by column 13: unexpected 'sideways'")


def test_empty_list(registry_path: Path) -> None:
    Registry(registry_path).close()
    result = invoke(registry_path, "runs", "list")
    assert result.exit_code == 0
    assert result.stdout.strip() == "No runs match."
    assert list_ids(registry_path) == []


# ---- JSON ------------------------------------------------------------------------------------


def test_list_json_shape_and_non_finite_values(registry_path: Path, runs: dict[str, str]) -> None:
    result = invoke(registry_path, "runs", "list", "--json", "-e", "e")
    assert result.exit_code == 0, result.stderr
    records = {r["name"]: r for r in _strict_loads(result.stdout)}  # type: ignore[union-attr]
    odd = records["odd"]
    assert set(odd) == {
        "id",
        "name",
        "experiment",
        "status",
        "start",
        "end",
        "duration",
        "parent",
        "params",
        "tags",
        "metrics",
    }
    assert odd["id"] == runs["odd"]
    assert odd["experiment"] == "e"
    assert odd["status"] == "FINISHED"
    assert odd["parent"] is None
    assert odd["params"] == {"model": "rf", "depth": "9"}
    assert odd["metrics"]["loss"] == {"last": None, "min": None, "max": None, "last_step": 0}
    assert odd["metrics"]["gain"]["last"] == "Infinity"
    assert odd["metrics"]["drop"] == {
        "last": "-Infinity",
        "min": "-Infinity",
        "max": "-Infinity",
        "last_step": 0,
    }
    start = datetime.fromisoformat(odd["start"])
    end = datetime.fromisoformat(odd["end"])
    assert start.utcoffset() is not None and start.utcoffset().total_seconds() == 0
    assert odd["duration"] == pytest.approx((end - start).total_seconds(), abs=0.01)
    forest = records["forest"]["metrics"]["acc"]
    assert forest == {"last": 0.95, "min": 0.8, "max": 0.95, "last_step": 1}


def test_show_json_has_details_and_artifacts(registry_path: Path, runs: dict[str, str]) -> None:
    result = invoke(registry_path, "runs", "show", runs["forest"], "--json")
    assert result.exit_code == 0, result.stderr
    data = _strict_loads(result.stdout)
    assert isinstance(data, dict)
    assert data["id"] == runs["forest"]
    assert data["note"] == "the best forest"
    assert data["in_trash"] is False
    assert data["metrics"]["acc"]["min_step"] == 0 and data["metrics"]["acc"]["count"] == 2
    [artifact] = data["artifacts"]
    assert artifact["path"] == "notes.txt"
    assert artifact["size"] == len(NOTE_TEXT.encode())


# ---- runs show and ids -----------------------------------------------------------------------


def test_show_prints_what_a_user_needs(registry_path: Path, runs: dict[str, str]) -> None:
    result = invoke(registry_path, "runs", "show", runs["forest"][:6])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert runs["forest"] in out and "forest" in out
    for word in ("Status", "FINISHED", "Duration", "Params:", "model", "rf", "Metrics"):
        assert word in out
    acc = next(line for line in out.splitlines() if line.strip().startswith("acc"))
    assert acc.split()[1:5] == ["0.95", "@1", "0.8", "@0"]
    assert "notes.txt" in out and "KiB" in out
    assert "the best forest" in out


def test_show_failed_run_gives_its_reason(registry_path: Path) -> None:
    with pytest.raises(ValueError), tracking.start_run(experiment="e", registry=str(registry_path)):
        raise ValueError("the data ran out")
    [run_id] = list_ids(registry_path)
    result = invoke(registry_path, "runs", "show", run_id)
    assert "FAILED (ValueError: the data ran out)" in result.stdout
    assert "Reason:" in result.stdout and "Traceback" in result.stdout


def test_unknown_and_ambiguous_ids_are_one_line_errors(registry_path: Path) -> None:
    with Registry(registry_path) as registry:
        registry.create_run("e", run_id="abcd000000000001", status=RunStatus.FINISHED)
        registry.create_run("e", run_id="abcd000000000002", status=RunStatus.FINISHED)
    assert_one_line_error(
        invoke(registry_path, "runs", "show", "abcd"), contains="matches several runs"
    )
    assert_one_line_error(invoke(registry_path, "runs", "show", "ffff1234"), contains="No run")
    assert_one_line_error(invoke(registry_path, "runs", "delete", "abcd00000000000", "zz"))
    assert len(list_ids(registry_path)) == 2
    result = invoke(registry_path, "runs", "show", "abcd0000000000011")
    assert_one_line_error(result, contains="No run")
    assert invoke(registry_path, "runs", "show", "abcd000000000002").exit_code == 0


# ---- trash -----------------------------------------------------------------------------------


def test_trash_round_trip_and_purge_frees_space(registry_path: Path, runs: dict[str, str]) -> None:
    forest = runs["forest"]
    result = invoke(registry_path, "runs", "delete", forest[:8])
    assert result.exit_code == 0 and "Moved 1 run to the trash." in result.stdout
    assert forest not in list_ids(registry_path)
    assert list_ids(registry_path, "--trash") == [forest]
    assert invoke(registry_path, "runs", "restore", forest).exit_code == 0
    assert forest in list_ids(registry_path)
    assert list_ids(registry_path, "--trash") == []

    assert_one_line_error(
        invoke(registry_path, "runs", "purge", forest, "--yes"), contains="not in the trash"
    )
    invoke(registry_path, "runs", "delete", forest)
    refused = invoke(registry_path, "runs", "purge", input="n\n")
    assert_one_line_error(refused, contains="Aborted.")
    assert list_ids(registry_path, "--trash") == [forest]

    result = invoke(registry_path, "runs", "purge", input="y\n")
    assert result.exit_code == 0, result.stderr
    size = format_bytes(len(NOTE_TEXT.encode()))
    assert f"Purged 1 run; removed 1 artifact file, freed {size}." in result.stdout
    assert list_ids(registry_path, "--trash") == []
    assert_one_line_error(invoke(registry_path, "runs", "show", forest), contains="No run")
    assert invoke(registry_path, "runs", "purge").stdout.strip() == "The trash is empty."


def test_purging_a_run_keeps_artifacts_other_runs_use(registry_path: Path) -> None:
    ids = []
    for _ in range(2):
        with tracking.start_run(experiment="e", registry=str(registry_path)) as run:
            run.log_text("shared bytes", "same.txt")
            ids.append(run.id)
    invoke(registry_path, "runs", "delete", ids[0])
    result = invoke(registry_path, "runs", "purge", ids[0], "--yes")
    assert result.exit_code == 0, result.stderr
    assert "removed 0 artifact files, freed 0 B" in result.stdout
    assert list_ids(registry_path) == [ids[1]]


def test_experiments_lifecycle(registry_path: Path, runs: dict[str, str]) -> None:
    result = invoke(registry_path, "experiments", "list")
    assert result.exit_code == 0
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == ["ID", "NAME", "RUNS"]
    assert [(r[1], r[2]) for r in rows[1:]] == [("e", "3"), ("other", "1")]

    assert invoke(registry_path, "experiments", "create", "fresh").exit_code == 0
    assert_one_line_error(
        invoke(registry_path, "experiments", "create", "fresh"), contains="already exists"
    )
    result = invoke(registry_path, "experiments", "delete", "other")
    assert "Moved experiment 'other' and its 1 run to the trash." in result.stdout
    assert runs["lonely"] not in list_ids(registry_path)
    assert list_ids(registry_path, "--trash") == [runs["lonely"]]
    trash = _strict_loads(invoke(registry_path, "experiments", "list", "--trash", "--json").stdout)
    assert [e["name"] for e in trash] == ["other"]  # type: ignore[union-attr]
    assert invoke(registry_path, "experiments", "restore", "other").exit_code == 0
    assert runs["lonely"] in list_ids(registry_path)
    listed = _strict_loads(invoke(registry_path, "experiments", "list", "--json").stdout)
    assert {e["name"]: e["runs"] for e in listed} == {"e": 3, "fresh": 0, "other": 1}  # type: ignore[union-attr]
    assert_one_line_error(invoke(registry_path, "experiments", "delete", "ghost"))


# ---- registry --------------------------------------------------------------------------------


def test_info(registry_path: Path, runs: dict[str, str]) -> None:
    info = _strict_loads(invoke(registry_path, "registry", "info", "--json").stdout)
    assert isinstance(info, dict)
    assert info["runs"] == 4 and info["experiments"] == 2
    assert Path(info["path"]) == registry_path.resolve()
    text = invoke(registry_path, "registry", "info").stdout
    assert "Runs" in text and "4 (0 in the trash)" in text


def test_check_flags_a_damaged_artifact(registry_path: Path, runs: dict[str, str]) -> None:
    result = invoke(registry_path, "registry", "check")
    assert result.exit_code == 0 and "No problems found." in result.stdout
    [blob] = [p for p in (registry_path / "artifacts").glob("??/*") if p.is_file()]
    blob.write_bytes(b"tampered")
    result = invoke(registry_path, "registry", "check")
    assert_one_line_error(result, contains="1 problem found")
    assert f"artifact {blob.name[:12]}: content does not match its SHA-256" in result.stdout


def test_backup_opens_as_the_same_registry(
    registry_path: Path, runs: dict[str, str], tmp_path: Path
) -> None:
    destination = tmp_path / "copy"
    result = invoke(registry_path, "registry", "backup", str(destination))
    assert result.exit_code == 0, result.stderr
    assert sorted(list_ids(destination)) == sorted(list_ids(registry_path))
    assert invoke(destination, "registry", "check").exit_code == 0
    assert_one_line_error(
        invoke(registry_path, "registry", "backup", str(destination)), contains="not empty"
    )


def _foreign_db(path: Path) -> bytes:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers (name) VALUES ('Ada')")
    conn.commit()
    conn.close()
    return path.read_bytes()


def test_foreign_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    database = folder / "registry.db"
    before = _foreign_db(database)
    for target in (folder, database):
        result = invoke(target, "runs", "list")
        assert_one_line_error(result, contains=str(target.name))
        assert database.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["registry.db"]


def test_missing_registry_is_an_error_not_a_new_folder(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    assert_one_line_error(invoke(missing, "runs", "list"), contains="No registry")
    assert not missing.exists()
    assert invoke(missing, "experiments", "create", "first").exit_code == 0
    assert (missing / "registry.db").is_file()


def test_registry_option_at_group_and_command_level(
    registry_path: Path, runs: dict[str, str], tmp_path: Path
) -> None:
    runner = CliRunner()
    at_command = runner.invoke(cli, ["runs", "list", "--json", "--registry", str(registry_path)])
    at_runs = runner.invoke(cli, ["runs", "--registry", str(registry_path), "list", "--json"])
    at_top = invoke(registry_path, "runs", "list", "--json")
    assert at_command.exit_code == at_runs.exit_code == at_top.exit_code == 0
    assert at_command.stdout == at_runs.stdout == at_top.stdout
    from_env = runner.invoke(
        cli, ["runs", "list", "--json"], env={"MODELDESK_REGISTRY": str(registry_path)}
    )
    assert from_env.stdout == at_top.stdout
    other = tmp_path / "other"
    Registry(other).close()
    overridden = runner.invoke(
        cli, ["--registry", str(registry_path), "runs", "list", "--json", "--registry", str(other)]
    )
    assert _strict_loads(overridden.stdout) == []


def test_usage_errors_are_one_line_with_exit_2(registry_path: Path) -> None:
    assert_one_line_error(invoke(registry_path, "runs", "list", "--nope"), code=2)
    assert_one_line_error(invoke(registry_path, "runs", "frobnicate"), code=2)
    assert_one_line_error(invoke(registry_path, "runs", "show"), code=2, contains="RUN")
    bare = invoke(registry_path, "runs")
    assert bare.exit_code == 0 and "Commands:" in bare.stdout


# ---- the entry point -------------------------------------------------------------------------


def _modeldesk(*args: str, registry: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("MODELDESK_REGISTRY", None)
    if registry is not None:
        env["MODELDESK_REGISTRY"] = str(registry)
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_entry_point_env_var_and_exit_codes(registry_path: Path, runs: dict[str, str]) -> None:
    listed = _modeldesk("runs", "list", "--json", registry=registry_path)
    assert listed.returncode == 0, listed.stderr
    assert {r["id"] for r in _strict_loads(listed.stdout)} == set(runs.values())  # type: ignore[union-attr]

    unknown = _modeldesk("runs", "show", "ffff0000", registry=registry_path)
    assert unknown.returncode == 1
    assert unknown.stderr == "Error: No run 'ffff0000'.\n"

    usage = _modeldesk("runs", "list", "--bogus", registry=registry_path)
    assert usage.returncode == 2
    assert usage.stderr.count("\n") == 1 and usage.stderr.startswith("Error: ")

    version = _modeldesk("--version")
    assert (version.returncode, version.stdout) == (0, f"modeldesk {__version__}\n")


def test_runs_list_imports_nothing_heavy(registry_path: Path, runs: dict[str, str]) -> None:
    code = (
        "import sys\n"
        "from desktop_app.__main__ import main\n"
        f"assert main(['--registry', {str(registry_path)!r}, 'runs', 'list']) == 0\n"
        "heavy = ('sklearn', 'pandas', 'git', 'PySide6', 'pyqtgraph', 'skops', 'desktop_app.ui')\n"
        "print(','.join(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stderr.strip() == ""


def test_no_command_opens_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    import desktop_app.ui

    calls: list[str | None] = []
    fake = types.ModuleType("desktop_app.ui.app")
    fake.main = lambda registry: calls.append(registry) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "desktop_app.ui.app", fake)
    monkeypatch.setattr(desktop_app.ui, "app", fake, raising=False)
    assert main([]) == 0
    assert main(["--registry", "/some/where"]) == 0
    assert main(["--registry=/else/where"]) == 0
    assert calls == [None, "/some/where", "/else/where"]
