"""Pixel-column envelopes: what a one-pixel line through many points covers, column by column.

A chart 800 pixels wide cannot show more than 800 columns of a 100,000-point curve. Inside one
pixel column a continuous line covers a single vertical run of pixels: from the lowest to the
highest value it reaches there, counting its points in the column and the places where it
crosses the column's two edges. Filling those runs draws the pixels the full line would draw, at
a cost set by the column count rather than the point count, and no spike is ever dropped.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

# Below this many points per pixel column the exact reach is cheap; above it, whole blocks of
# points (at most a quarter column wide) are reduced at once from precomputed minima and maxima.
DENSE_POINTS_PER_COLUMN = 16
BLOCK_FRACTION = 4


Spans = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class _Layout:
    """Where a view's columns fall in the points: everything about a query but the y values.

    ``blocks`` is the block size (``2 ** level``) or 0 for an exact trace. ``first``/``stop``
    bound the blocks (or points) read; ``starts`` are reduceat offsets into them, one per
    column that holds any (``filled`` picks those columns, None when all do). An exact trace also
    carries, per column edge, the points either side (``before``, ``after``), how far along
    the segment between them the edge is (``along``), and where no segment crosses (``open``).
    """

    blocks: int
    first: int
    stop: int
    starts: np.ndarray
    filled: np.ndarray | None
    before: np.ndarray | None = None
    after: np.ndarray | None = None
    along: np.ndarray | None = None
    open: np.ndarray | None = None


class XIndex:
    """The x side of envelopes (block starts and widths, each view's layout), shareable.

    Runs logged at the same steps have equal x: their envelopes can share one index, so a
    view is laid out once for all of them and each curve only reduces its own values.
    """

    def __init__(self, x: np.ndarray) -> None:
        self.x = np.asarray(x, dtype=float)
        self._levels: list[tuple[np.ndarray, np.ndarray]] = []
        self._last: tuple[tuple[float, float, int], _Layout] | None = None

    def same_x(self, x: np.ndarray) -> bool:
        """Whether ``x`` holds exactly this index's values (cheap checks first)."""
        mine = self.x
        if x is mine:
            return True
        if x.size != mine.size or x.size == 0:
            return x.size == mine.size
        return bool(x[0] == mine[0] and x[-1] == mine[-1] and np.array_equal(x, mine))

    def level(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """First x and x extent of each block of ``2 ** index`` points (index ≥ 1)."""
        while len(self._levels) < index:
            size = 2 ** (len(self._levels) + 1)
            # Copied out: searching a strided view of a cold array is slow.
            starts = self.x[::size].copy()
            last = np.minimum(np.arange(size - 1, self.x.size + size - 1, size), self.x.size - 1)
            self._levels.append((starts, self.x[last] - starts))
        return self._levels[index - 1]

    def layout(self, left: float, right: float, columns: int) -> _Layout:
        """How ``columns`` equal columns over [left, right] fall in the points (last one kept)."""
        key = (left, right, columns)
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        x = self.x
        first = int(np.searchsorted(x, left, side="left"))
        stop = int(np.searchsorted(x, right, side="right"))
        layout = None
        if (stop - first) / columns >= DENSE_POINTS_PER_COLUMN:
            layout = self._block_layout(first, stop, left, right, columns)
        if layout is None:
            # One point either side of the view, for where the line enters and leaves it.
            layout = _exact_layout(
                x, max(first - 1, 0), min(stop + 1, x.size), left, right, columns
            )
        self._last = (key, layout)
        return layout

    def _block_layout(
        self, first: int, stop: int, left: float, right: float, columns: int
    ) -> _Layout | None:
        """Columns as runs of blocks; None if some block is too wide to place in one column."""
        index = int(math.log2((stop - first) / columns / BLOCK_FRACTION))
        size = 2**index
        block_starts, widths = self.level(index)
        block_first, block_stop = first // size, -(-stop // size)
        if float(widths[block_first:block_stop].max()) > (right - left) / columns / BLOCK_FRACTION:
            return None
        starts = np.searchsorted(
            block_starts[block_first:block_stop], _edges(left, right, columns), side="left"
        )
        # The block holding the first point in view starts left of the view: it is column 0's.
        starts[0] = 0
        return _runs(size, block_first, starts)


def _exact_layout(
    x: np.ndarray, start: int, end: int, left: float, right: float, columns: int
) -> _Layout:
    """Columns as runs of points [start, end), with where the line crosses each edge."""
    edges = _edges(left, right, columns)
    starts = np.searchsorted(x[start:end], edges, side="left")
    last = end - start - 1
    # The segment across each edge runs from the last point before it to the first after it.
    before = np.maximum(starts - 1, 0) + start
    after = np.minimum(starts, last) + start
    with np.errstate(invalid="ignore", divide="ignore"):
        along = (edges - x[before]) / (x[after] - x[before])
    runs = _runs(0, start, starts)
    no_segment = (starts == 0) | (starts > last)
    return _Layout(0, start, runs.stop, runs.starts, runs.filled, before, after, along, no_segment)


def _runs(blocks: int, first: int, starts: np.ndarray) -> _Layout:
    """A layout whose column k reads items [first + starts[k], first + starts[k + 1])."""
    stop = first + int(starts[-1])
    filled = starts[1:] > starts[:-1]
    if filled.all():
        return _Layout(blocks, first, stop, starts[:-1], None)
    # Columns without items (reduceat cannot take empty runs).
    return _Layout(blocks, first, stop, starts[:-1][filled], filled)


class CurveEnvelope:
    """A curve's points with their minima and maxima over blocks of 2, 4, 8, … points.

    ``spans`` answers in time set by the column count, however many points are in view: dense
    views take each column's extremes from blocks at most a quarter column wide (a spike is
    kept, placed at worst a quarter pixel off); sparse views, and views where some block is
    wider than that (a log x axis, a pause in wall-clock time), are traced exactly. Give
    curves with equal x one ``XIndex``.
    """

    def __init__(self, x: np.ndarray | XIndex, y: np.ndarray) -> None:
        self.index = x if isinstance(x, XIndex) else XIndex(x)
        self.y = np.asarray(y, dtype=float)
        self._levels: list[tuple[np.ndarray, np.ndarray]] = []

    @property
    def x(self) -> np.ndarray:
        """The points' x, ascending."""
        return self.index.x

    def _level(self, blocks: int) -> tuple[np.ndarray, np.ndarray]:
        """Minimum and maximum of each block of ``blocks`` points (a power of two ≥ 2)."""
        while 2 ** len(self._levels) < blocks:
            low, high = self._levels[-1] if self._levels else (self.y, self.y)
            if low.size % 2:
                low = np.append(low, np.nan)
                high = np.append(high, np.nan)
            self._levels.append((np.fmin(low[0::2], low[1::2]), np.fmax(high[0::2], high[1::2])))
        return self._levels[blocks.bit_length() - 2]

    def spans(self, left: float, right: float, columns: int) -> Spans:
        """Lowest and highest value the curve reaches in each of ``columns`` columns of the view."""
        if columns <= 0 or self.y.size == 0 or not right > left:
            return _nothing(columns)
        layout = self.index.layout(left, right, columns)
        if layout.blocks:
            low_blocks, high_blocks = self._level(layout.blocks)
            return _bridge(*_reduce(layout, low_blocks, high_blocks, columns))
        return _traced(layout, self.y, columns)


def column_spans(x: np.ndarray, y: np.ndarray, left: float, right: float, columns: int) -> Spans:
    """Lowest and highest value of the line through (x, y) in each of ``columns`` equal columns.

    The columns split [left, right]. ``x`` must be ascending and finite; a NaN in ``y`` breaks
    the line (no segment touches it). A column the line does not reach gets NaN.
    """
    if columns <= 0 or x.size == 0 or not right > left:
        return _nothing(columns)
    layout = _exact_layout(np.asarray(x, dtype=float), 0, x.size, left, right, columns)
    return _traced(layout, np.asarray(y, dtype=float), columns)


def _nothing(columns: int) -> Spans:
    empty = np.full(max(columns, 0), np.nan)
    return empty, empty.copy()


def _reduce(layout: _Layout, lows: np.ndarray, highs: np.ndarray, columns: int) -> Spans:
    """Each column's minimum of ``lows`` and maximum of ``highs`` over its run of items."""
    lows = lows[layout.first : layout.stop]
    highs = highs[layout.first : layout.stop]
    if layout.filled is None:
        return np.fmin.reduceat(lows, layout.starts), np.fmax.reduceat(highs, layout.starts)
    low = np.full(columns, np.nan)
    high = low.copy()
    if layout.starts.size:
        low[layout.filled] = np.fmin.reduceat(lows, layout.starts)
        high[layout.filled] = np.fmax.reduceat(highs, layout.starts)
    return low, high


def _traced(layout: _Layout, y: np.ndarray, columns: int) -> Spans:
    """Exact spans: the points in each column and the line's value at its two edges."""
    assert layout.before is not None and layout.after is not None and layout.along is not None
    low, high = _reduce(layout, y, y, columns)
    before, after = y[layout.before], y[layout.after]
    with np.errstate(invalid="ignore"):
        crossing = before + (after - before) * layout.along
    crossing[layout.open] = np.nan
    low = np.fmin(low, np.fmin(crossing[:-1], crossing[1:]))
    high = np.fmax(high, np.fmax(crossing[:-1], crossing[1:]))
    return low, high


@functools.lru_cache(maxsize=8)
def _counts(columns: int) -> np.ndarray:
    return np.arange(columns + 1, dtype=float)


def _edges(left: float, right: float, columns: int) -> np.ndarray:
    """The ``columns + 1`` edges of equal columns over [left, right]."""
    edges = _counts(columns) * ((right - left) / columns)
    edges += left
    edges[-1] = right
    return edges


def _bridge(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Join neighbouring columns that do not overlap, each reaching halfway to the other.

    The line between the last point of one column and the first of the next crosses their
    shared edge in between; halfway stands in for where, in views too dense to trace exactly.
    """
    rise = low[1:] > high[:-1]
    fall = high[1:] < low[:-1]
    if not (rise.any() or fall.any()):
        return low, high
    up = (high[:-1] + low[1:]) / 2
    down = (low[:-1] + high[1:]) / 2
    high = high.copy()
    low = low.copy()
    # A column can rise from its left neighbour and fall to its right one: only ever widen.
    high[:-1] = np.where(rise, np.fmax(high[:-1], up), high[:-1])
    low[1:] = np.where(rise, np.fmin(low[1:], up), low[1:])
    low[:-1] = np.where(fall, np.fmin(low[:-1], down), low[:-1])
    high[1:] = np.where(fall, np.fmax(high[1:], down), high[1:])
    return low, high


def span_rows(
    low: np.ndarray,
    high: np.ndarray,
    bottom: float,
    top: float,
    rows: int,
    extra: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The pixel rows [first, stop) each column's span covers on a plot of ``rows`` rows.

    Row 0 is the top of the plot, showing value ``top``; row ``rows`` is at ``bottom``. ``extra``
    widens every span by that many pixels each way, vertically and across neighbouring columns,
    as a round pen that much wider would. A column without a span gets ``first == stop`` (nothing).
    Columns run along the last axis, so one call can take many curves' spans stacked.
    """
    scale = rows / (top - bottom) if top != bottom else 0.0
    limit = rows + extra + 1
    with np.errstate(invalid="ignore"):
        first = np.floor(np.clip((top - high) * scale, -extra - 1, limit))
        stop = np.floor(np.clip((top - low) * scale, -extra - 1, limit)) + 1
    empty = np.isnan(first) | np.isnan(stop)
    if extra > 0:
        first[empty] = math.inf
        stop[empty] = -math.inf
        wide_first, wide_stop = first - extra, stop + extra
        for shift in range(1, extra + 1):
            # A round pen: columns further from the line's own are reached less high.
            reach = round(math.sqrt(extra**2 - shift**2))
            np.minimum(
                wide_first[..., shift:], first[..., :-shift] - reach, out=wide_first[..., shift:]
            )
            np.minimum(
                wide_first[..., :-shift], first[..., shift:] - reach, out=wide_first[..., :-shift]
            )
            np.maximum(
                wide_stop[..., shift:], stop[..., :-shift] + reach, out=wide_stop[..., shift:]
            )
            np.maximum(
                wide_stop[..., :-shift], stop[..., shift:] + reach, out=wide_stop[..., :-shift]
            )
        first, stop = wide_first, wide_stop
        empty = np.isinf(first) | np.isinf(stop)
    first[empty] = 0.0
    stop[empty] = 0.0
    return first, stop
