"""Opening, migrating, trash lifecycle and housekeeping of a registry folder."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from desktop_app.errors import ConflictError, NotFoundError, RegistryError
from desktop_app.registry import Registry, RunStatus, open_registry
from desktop_app.registry.migrations import APPLICATION_ID, LATEST_VERSION, migrate


def _fill(registry: Registry) -> list[str]:
    ids = []
    for index in range(3):
        run = registry.create_run("exp", name=f"r{index}", params={"i": index})
        registry.log_batch(run.id, metrics=[("loss", 1.0 / (s + 1), s, 0.0) for s in range(5)])
        registry.set_run_status(run.id, RunStatus.FINISHED)
        ids.append(run.id)
    return ids


def test_new_registry_is_a_folder_with_database_and_artifacts(registry_path: Path) -> None:
    registry = Registry(registry_path)
    assert (registry_path / "registry.db").is_file()
    assert (registry_path / "artifacts").is_dir()
    conn = registry.db.connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert registry.db.schema_version() == LATEST_VERSION


def test_environment_variable_and_default_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELDESK_REGISTRY", str(tmp_path / "from-env"))
    assert open_registry().root == (tmp_path / "from-env").resolve()
    monkeypatch.delenv("MODELDESK_REGISTRY")
    default = open_registry()
    assert default.root.name == "registry"
    assert str(default.root).startswith(os.environ["XDG_DATA_HOME"])


def _foreign_db(path: Path) -> bytes:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers (name) VALUES ('Ada')")
    conn.commit()
    conn.close()
    return path.read_bytes()


def test_foreign_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    folder = tmp_path / "other"
    folder.mkdir()
    before = _foreign_db(folder / "registry.db")
    with pytest.raises(RegistryError, match="another application"):
        Registry(folder)
    assert (folder / "registry.db").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["registry.db"]


def test_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "registry.db").write_bytes(b"PK\x03\x04 this is a zip file, not a database")
    with pytest.raises(RegistryError, match="not a SQLite database"):
        Registry(folder)
    assert (folder / "registry.db").read_bytes().startswith(b"PK\x03\x04")


def test_path_to_a_file_instead_of_a_folder_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("hi")
    with pytest.raises(RegistryError, match="is a file"):
        Registry(target)


def test_newer_schema_is_refused_untouched(registry_path: Path) -> None:
    Registry(registry_path).close()
    db = registry_path / "registry.db"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 5}")
    conn.close()
    before = db.read_bytes()
    with pytest.raises(RegistryError, match="newer than this ModelDesk knows"):
        Registry(registry_path)
    assert db.read_bytes() == before


def test_read_only_folder_gives_a_clear_error_and_changes_nothing(tmp_path: Path) -> None:
    # Root writes through permission bits, so the folder sits on a file system mounted read-only.
    mount_point = tmp_path / "readonly"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a file system here (needs root)")
    try:
        Registry(mount_point / "reg").close()
        before = (mount_point / "reg" / "registry.db").read_bytes()
        subprocess.run(["mount", "-o", "remount,ro", str(mount_point)], check=True)
        with pytest.raises(RegistryError, match="read-only"):
            Registry(mount_point / "reg")
        assert (mount_point / "reg" / "registry.db").read_bytes() == before
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def test_migration_from_an_older_schema_keeps_every_row_and_backs_up(
    registry_path: Path,
) -> None:
    registry_path.mkdir()
    db = registry_path / "registry.db"
    conn = sqlite3.connect(db, isolation_level=None)
    migrate(conn, db, target=1)
    conn.execute("INSERT INTO experiments (name, created_at) VALUES ('old', 1.0)")
    for index in range(50):
        conn.execute(
            "INSERT INTO runs (id, experiment_id, name, status, created_at) "
            "VALUES (?, 1, ?, 'FINISHED', 1.0)",
            (f"{index:016x}", f"run{index}"),
        )
        conn.execute(
            "INSERT INTO params (run_id, key, value) VALUES (?, 'i', ?)", (f"{index:016x}", index)
        )
    conn.close()

    registry = Registry(registry_path)
    assert registry.db.schema_version() == LATEST_VERSION
    assert registry.count_runs() == 50
    assert registry.get_run(f"{7:016x}").params == {"i": "7"}
    assert registry.db.backup_path is not None and registry.db.backup_path.exists()
    backup = sqlite3.connect(registry.db.backup_path)
    assert backup.execute("PRAGMA user_version").fetchone()[0] == 1
    assert backup.execute("SELECT count(*) FROM runs").fetchone()[0] == 50


def test_delete_restore_and_purge_runs(registry: Registry, tmp_path: Path) -> None:
    ids = _fill(registry)
    shared = tmp_path / "shared.bin"
    shared.write_bytes(b"x" * 1000)
    own = tmp_path / "own.bin"
    own.write_bytes(b"y" * 5000)
    registry.log_artifact(ids[0], shared)
    registry.log_artifact(ids[1], shared)
    registry.log_artifact(ids[0], own)

    assert registry.delete_runs([ids[0]]) == 1
    assert ids[0] not in registry.search_runs()
    assert registry.search_runs(trash=True) == [ids[0]]
    with pytest.raises(ConflictError, match="not in the trash"):
        registry.purge([ids[1]])
    assert registry.restore_runs([ids[0]]) == 1
    assert ids[0] in registry.search_runs()

    registry.delete_runs([ids[0]])
    report = registry.purge()
    assert report.runs == 1
    # Only the file no other run uses is removed from disk.
    assert report.artifacts_removed == 1 and report.bytes_freed == 5000
    with pytest.raises(NotFoundError):
        registry.get_run(ids[0])
    assert registry.artifacts.read_bytes(registry.list_artifacts(ids[1])[0].sha256) == b"x" * 1000
    actions = [(e["action"], e["entity_id"]) for e in registry.audit_log("run")]
    assert actions == [
        ("purge", ids[0]),
        ("delete", ids[0]),
        ("restore", ids[0]),
        ("delete", ids[0]),
    ]
    assert registry.check() == []


def test_deleting_a_parent_takes_its_children_to_the_trash(registry: Registry) -> None:
    parent = registry.create_run("sweep")
    child = registry.create_run("sweep", parent_id=parent.id)
    registry.delete_runs([parent.id])
    assert set(registry.search_runs(trash=True)) == {parent.id, child.id}
    registry.purge()
    assert registry.count_runs(trash=True) == 0


def test_experiment_trash_hides_and_restores_its_runs(registry: Registry) -> None:
    ids = _fill(registry)
    registry.delete_experiment("exp")
    assert registry.search_runs() == []
    assert set(registry.search_runs(trash=True)) == set(ids)
    assert [e.name for e in registry.list_experiments()] == []
    with pytest.raises(ConflictError, match="trash"):
        registry.create_run("exp")
    registry.restore_experiment("exp")
    assert set(registry.search_runs()) == set(ids)
    registry.delete_experiment("exp")
    report = registry.purge(experiments=["exp"])
    assert (report.runs, report.experiments) == (3, 1)
    assert registry.list_experiments(lifecycle=None) == []


def test_check_reports_a_damaged_artifact(registry: Registry, tmp_path: Path) -> None:
    run = registry.create_run("e")
    source = tmp_path / "a.txt"
    source.write_text("original")
    artifact = registry.log_artifact(run.id, source)
    registry.artifacts.path_for(artifact.sha256).write_text("tampered")
    problems = registry.check()
    assert problems == [f"artifact {artifact.sha256[:12]}: content does not match its SHA-256"]
    with pytest.raises(RegistryError, match="does not match"):
        registry.artifacts.read_bytes(artifact.sha256)


def test_backup_is_a_registry_with_the_same_runs(registry: Registry, tmp_path: Path) -> None:
    ids = _fill(registry)
    copy = Registry(registry.backup(tmp_path / "copy"))
    assert set(copy.search_runs()) == set(ids)
    assert copy.get_metric_history(ids[0], "loss").values.tolist() == [1, 0.5, 1 / 3, 0.25, 0.2]


def test_run_id_prefixes(registry: Registry) -> None:
    run = registry.create_run("e")
    assert registry.get_run(run.id[:6]).id == run.id
    with pytest.raises(NotFoundError):
        registry.get_run("zzzz")


def test_order_by_errors_count_columns_within_the_order_clause(registry: Registry) -> None:
    from desktop_app.errors import QuerySyntaxError

    with pytest.raises(QuerySyntaxError) as caught:
        registry.search_runs(order_by="metrics.f1 sideways")
    assert caught.value.column == 12


def test_deleting_an_experiment_twice_is_audited_once(registry: Registry) -> None:
    registry.create_experiment("twice")
    registry.delete_experiment("twice")
    registry.delete_experiment("twice")
    assert [e["action"] for e in registry.audit_log("experiment")] == ["delete"]


def test_connections_of_finished_threads_are_closed(registry: Registry) -> None:
    import threading

    def work() -> None:
        registry.search_runs()

    threads = [threading.Thread(target=work) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    import gc

    gc.collect()
    assert len(registry.db._all) <= 2  # this thread's, and perhaps one not yet collected


def test_tags_of_a_missing_run_are_refused(registry: Registry) -> None:
    with pytest.raises(NotFoundError):
        registry.set_tags("0123456789abcdef", {"a": "b"})


def test_a_run_running_again_has_no_end_time(registry: Registry) -> None:
    run = registry.create_run("e")
    registry.set_run_status(run.id, RunStatus.KILLED, "stopped")
    assert registry.get_run(run.id).end_time is not None
    registry.set_run_status(run.id, RunStatus.RUNNING)
    resumed = registry.get_run(run.id)
    assert resumed.end_time is None and resumed.duration is None
