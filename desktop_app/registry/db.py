"""Opening a registry database safely: identity checks, pragmas, one connection per thread.

A file is only ever modified after it has been recognised as a ModelDesk registry (or created
empty by us), so opening a foreign or newer file leaves it byte-for-byte untouched.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from desktop_app.errors import RegistryError
from desktop_app.registry.migrations import APPLICATION_ID, LATEST_VERSION, migrate

if TYPE_CHECKING:
    import sqlite_utils

DB_FILENAME = "registry.db"
BUSY_TIMEOUT_S = 30.0


def _connect(db_path: Path) -> sqlite3.Connection:
    # Autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE so that
    # concurrent writers queue on the busy timeout instead of failing on a lock upgrade.
    conn = sqlite3.connect(
        db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA cache_size = -32000")
    # Reads through a memory map skip copying pages into SQLite's cache: searches that
    # probe many runs (a filtered leaderboard over 100k runs) run about 1.5x faster.
    conn.execute("PRAGMA mmap_size = 268435456")
    return conn


def check_identity(db_path: Path) -> int:
    """Return the schema version of an existing file, or raise if it is not ours to open.

    The file is only read through SQLite, read-only: a plain ``open()``/``close()`` of a
    database file would drop every POSIX lock this process holds on it (a close releases all
    of a process's fcntl locks on the file), letting another process checkpoint away a WAL
    that a connection here still uses. SQLite itself defers such closes.
    """
    uri = f"{db_path.resolve().as_uri()}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise RegistryError(
                f"{db_path} is not a ModelDesk registry (not a SQLite database); "
                "it was left untouched."
            ) from exc
        raise RegistryError(
            f"{db_path} is not a readable SQLite database ({exc}); it was left untouched."
        ) from exc
    if app_id != APPLICATION_ID and not (app_id == 0 and tables == 0):
        raise RegistryError(
            f"{db_path} is a SQLite database of another application, not a ModelDesk registry; "
            "it was left untouched."
        )
    if version > LATEST_VERSION:
        raise RegistryError(
            f"{db_path} uses registry schema v{version}, newer than this ModelDesk knows "
            f"(v{LATEST_VERSION}). Update ModelDesk to open it; the file was left untouched."
        )
    return int(version)


class _ThreadConnection:
    """Holds one thread's connection and closes it when the thread ends (its locals go)."""

    def __init__(self, conn: sqlite3.Connection, owner: Database) -> None:
        self.conn = conn
        self._owner = weakref.ref(owner)

    def __del__(self) -> None:
        owner = self._owner()
        if owner is not None:
            owner._forget(self.conn)
        with suppress(sqlite3.Error):
            self.conn.close()


class Database:
    """The registry's SQLite file, with one connection per thread and explicit transactions."""

    def __init__(self, root: Path, *, create: bool = True) -> None:
        self.root = root
        self.path = root / DB_FILENAME
        self.backup_path: Path | None = None
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._open(create)

    def _open(self, create: bool) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise RegistryError(
                f"{self.root} is a file; a registry is a folder holding {DB_FILENAME} "
                "and artifacts/."
            )
        if not self.root.exists():
            if not create:
                raise RegistryError(f"No registry at {self.root}.")
            try:
                self.root.mkdir(parents=True)
            except OSError as exc:
                raise RegistryError(
                    f"Cannot create the registry folder {self.root}: {exc.strerror}"
                ) from exc
        exists = self.path.exists()
        if not exists and not create:
            raise RegistryError(f"{self.root} holds no {DB_FILENAME}.")
        if not os.access(self.root, os.W_OK) or (exists and not os.access(self.path, os.W_OK)):
            raise RegistryError(
                f"The registry folder {self.root} is read-only; ModelDesk needs to write there "
                "(copy the folder somewhere writable to open it). Nothing was changed."
            )
        if exists:
            check_identity(self.path)
        conn = self.connection()
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            self.backup_path = migrate(conn, self.path)
        except sqlite3.DatabaseError as exc:
            raise RegistryError(f"Cannot open {self.path}: {exc}") from exc

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (a forked child gets fresh ones)."""
        if os.getpid() != self._pid:
            self._local = threading.local()
            self._all = []
            self._pid = os.getpid()
        holder = getattr(self._local, "holder", None)
        if holder is None:
            holder = _ThreadConnection(_connect(self.path), self)
            self._local.holder = holder
            with self._lock:
                self._all.append(holder.conn)
        return holder.conn

    def _forget(self, conn: sqlite3.Connection) -> None:
        with self._lock, suppress(ValueError):
            self._all.remove(conn)

    def utils(self) -> sqlite_utils.Database:
        """A sqlite-utils view over this thread's connection, for reads and introspection."""
        import sqlite_utils  # imported here: it costs ~0.25 s and most commands never need it

        return sqlite_utils.Database(self.connection())

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: everything inside commits together or not at all."""
        conn = self.connection()
        if conn.in_transaction:
            # Nested use joins the outer transaction.
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot for several queries."""
        conn = self.connection()
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def data_version(self) -> int:
        """A number that changes whenever another connection commits (cheap to poll)."""
        return int(self.connection().execute("PRAGMA data_version").fetchone()[0])

    def schema_version(self) -> int:
        """The schema version of the open database."""
        return int(self.connection().execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        """Close every connection this object opened."""
        with self._lock:
            for conn in self._all:
                with suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()
        self._local = threading.local()
