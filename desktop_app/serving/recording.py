"""Recording a sample of served input rows into the registry, off the request path.

The request path only draws a random number and, for a sampled request, drops the model input
into a bounded queue; a writer thread turns inputs into rows and stores them in batches. When
the writer falls behind, samples are dropped rather than slowing requests down.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from typing import TYPE_CHECKING, Any

from desktop_app.registry.recordings import DEFAULT_MAX_RECORDED_ROWS
from desktop_app.serving.inputs import rows_as_records

if TYPE_CHECKING:
    from desktop_app.registry.store import Registry
    from desktop_app.serving.model import ServedModel

log = logging.getLogger(__name__)

ROWS_PER_REQUEST = 10
QUEUE_LIMIT = 1000
FLUSH_INTERVAL_S = 0.5


class InputRecorder:
    """Samples requests at ``fraction`` and stores up to ten rows of each sampled one."""

    def __init__(
        self,
        registry: Registry,
        model: ServedModel,
        fraction: float = 0.0,
        *,
        max_rows: int = DEFAULT_MAX_RECORDED_ROWS,
    ) -> None:
        self.registry = registry
        self.model = model
        self.fraction = 0.0
        self.max_rows = max_rows
        self.recorded = 0
        self.dropped = 0
        self._queue: queue.Queue[tuple[str, float, Any] | None] = queue.Queue(QUEUE_LIMIT)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.set_fraction(fraction)

    @property
    def enabled(self) -> bool:
        """Whether any request is sampled."""
        return self.fraction > 0.0

    def set_fraction(self, fraction: float) -> None:
        """Sample this share of requests (0 switches recording off)."""
        self.fraction = min(1.0, max(0.0, float(fraction)))
        if self.fraction > 0.0:
            self._ensure_writer()

    def offer(self, source: str, model_input: Any) -> None:
        """Maybe record rows of a served request (called on the request path: cheap)."""
        if self.fraction <= 0.0 or random.random() >= self.fraction:
            return
        try:
            self._queue.put_nowait((source, time.time(), model_input))
        except queue.Full:
            self.dropped += 1

    def _ensure_writer(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._write_loop, name="input-recorder", daemon=True
                )
                self._thread.start()

    def _write_loop(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            batch = [item]
            deadline = time.monotonic() + FLUSH_INTERVAL_S
            while time.monotonic() < deadline:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            stop = None in batch
            self._write([b for b in batch if b is not None])

    def _write(self, batch: list[tuple[str, float, Any]]) -> None:
        for source, at, model_input in batch:
            try:
                rows = _sample_rows(self.model, model_input)
                self.recorded += self.registry.record_inputs(
                    self.model.name,
                    int(self.model.version),
                    rows,
                    source=source,
                    recorded_at=at,
                    max_rows=self.max_rows,
                )
            except Exception as exc:  # recording must never take the server down
                self.dropped += 1
                log.warning("input rows not recorded: %s", exc)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the writer."""
        thread = self._thread
        if thread is None:
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        thread.join(timeout)

    def state(self) -> dict[str, Any]:
        """The recording switch as JSON."""
        return {
            "enabled": self.enabled,
            "fraction": self.fraction,
            "recorded": self.recorded,
            "dropped": self.dropped,
            "max_rows": self.max_rows,
        }


def _sample_rows(model: ServedModel, model_input: Any) -> list[dict[str, Any]]:
    count = len(model_input)
    if count <= ROWS_PER_REQUEST:
        return rows_as_records(model, model_input, ROWS_PER_REQUEST)
    picks = sorted(random.sample(range(count), ROWS_PER_REQUEST))
    if hasattr(model_input, "iloc"):
        return rows_as_records(model, model_input.iloc[picks], ROWS_PER_REQUEST)
    return rows_as_records(model, model_input[picks], ROWS_PER_REQUEST)
