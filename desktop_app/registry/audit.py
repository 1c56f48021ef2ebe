"""The audit log: every delete, restore, purge and alias change, with time and detail."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any


def record_audit(
    conn: sqlite3.Connection, action: str, entity_type: str, entity_id: str, detail: dict[str, Any]
) -> None:
    """Append one entry (inside the caller's write transaction)."""
    conn.execute(
        "INSERT INTO audit_log (at, action, entity_type, entity_id, detail) VALUES (?, ?, ?, ?, ?)",
        (time.time(), action, entity_type, entity_id, json.dumps(detail)),
    )
