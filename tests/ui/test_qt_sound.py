"""The Qt binding in use does not leak references when Python emits signals.

PySide6 6.12.0 lost one reference to ``True`` per ``emit()`` and aborted the interpreter after
a few thousand signals; pyproject caps the version below it. This test keeps the cap honest.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Probe(QObject):
    sig_pinged = Signal()


def test_emit_keeps_reference_counts(qapp) -> None:
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(200):
        probe.sig_pinged.emit()
    assert sys.getrefcount(True) >= before - 5
