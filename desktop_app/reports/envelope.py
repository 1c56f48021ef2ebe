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

import numpy as np

# Below this many points per pixel column the exact reach is cheap; above it, whole blocks of
# points (at most a quarter column wide) are reduced at once from precomputed minima and maxima.
DENSE_POINTS_PER_COLUMN = 16
BLOCK_FRACTION = 4


class CurveEnvelope:
    """A curve's points with their minima and maxima over blocks of 2, 4, 8, … points.

    ``spans`` answers in time set by the column count, however many points are in view: dense
    views take each column's extremes from blocks at most a quarter column wide (a spike is
    kept, placed at worst a quarter pixel off); sparse views, and views where some block is
    wider than that (a log x axis, a pause in wall-clock time), are traced exactly.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x = np.asarray(x, dtype=float)
        self.y = np.asarray(y, dtype=float)
        self._levels: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def _level(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """First x, x extent, minimum and maximum of blocks of ``2 ** index`` points."""
        while len(self._levels) < index:
            low, high = self._levels[-1][2:] if self._levels else (self.y, self.y)
            if low.size % 2:
                low = np.append(low, np.nan)
                high = np.append(high, np.nan)
            size = 2 ** (len(self._levels) + 1)
            # Block starts are copied out: searching a strided view of a cold array is slow.
            starts = self.x[::size].copy()
            last = np.minimum(np.arange(size - 1, self.x.size + size - 1, size), self.x.size - 1)
            widths = self.x[last] - starts
            pair_low = np.fmin(low[0::2], low[1::2])
            pair_high = np.fmax(high[0::2], high[1::2])
            self._levels.append((starts, widths, pair_low, pair_high))
        return self._levels[index - 1]

    def spans(self, left: float, right: float, columns: int) -> tuple[np.ndarray, np.ndarray]:
        """Lowest and highest value the curve reaches in each of ``columns`` columns of the view."""
        x = self.x
        if columns <= 0 or x.size == 0 or not right > left:
            return column_spans(x, self.y, left, right, columns)
        first = int(np.searchsorted(x, left, side="left"))
        stop = int(np.searchsorted(x, right, side="right"))
        per_column = (stop - first) / columns
        if per_column >= DENSE_POINTS_PER_COLUMN:
            spans = self._from_blocks(first, stop, left, right, columns)
            if spans is not None:
                return spans
        # One point either side of the view, for where the line enters and leaves it.
        start, end = max(first - 1, 0), min(stop + 1, x.size)
        return column_spans(x[start:end], self.y[start:end], left, right, columns)

    def _from_blocks(
        self, first: int, stop: int, left: float, right: float, columns: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Spans of points [first, stop) from blocks; None if a block is too wide to place."""
        index = int(math.log2((stop - first) / columns / BLOCK_FRACTION))
        size = 2**index
        block_starts, widths, low_blocks, high_blocks = self._level(index)
        block_first, block_stop = first // size, -(-stop // size)
        if float(widths[block_first:block_stop].max()) > (right - left) / columns / BLOCK_FRACTION:
            return None
        starts = np.searchsorted(
            block_starts[block_first:block_stop], _edges(left, right, columns), side="left"
        )
        # The block holding the first point in view starts left of the view: it is column 0's.
        starts[0] = 0
        lows, highs = low_blocks[block_first:block_stop], high_blocks[block_first:block_stop]
        filled = starts[1:] > starts[:-1]
        if filled.all():
            low = np.fmin.reduceat(lows, starts[:-1])
            high = np.fmax.reduceat(highs, starts[:-1])
        else:
            # Columns without a block start (reduceat cannot take empty runs).
            low = np.full(columns, np.nan)
            high = low.copy()
            runs = starts[:-1][filled]
            low[filled] = np.fmin.reduceat(lows, runs)
            high[filled] = np.fmax.reduceat(highs, runs)
        return _bridge(low, high)


def column_spans(
    x: np.ndarray, y: np.ndarray, left: float, right: float, columns: int
) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest value of the line through (x, y) in each of ``columns`` equal columns.

    The columns split [left, right]. ``x`` must be ascending and finite; a NaN in ``y`` breaks
    the line (no segment touches it). A column the line does not reach gets NaN.
    """
    if columns <= 0 or x.size == 0 or not right > left:
        empty = np.full(max(columns, 0), np.nan)
        return empty, empty.copy()
    edges = _edges(left, right, columns)
    # The points inside each column, reduced in one pass (x is sorted, so columns are runs).
    starts = np.searchsorted(x, edges, side="left")
    filled = starts[1:] > starts[:-1]
    if filled.all():
        inside = y[: starts[-1]]
        low = np.fmin.reduceat(inside, starts[:-1])
        high = np.fmax.reduceat(inside, starts[:-1])
    else:
        low = np.full(columns, np.nan)
        high = low.copy()
        if filled.any():
            runs = starts[:-1][filled]
            inside = y[: starts[-1]]
            low[filled] = np.fmin.reduceat(inside, runs)
            high[filled] = np.fmax.reduceat(inside, runs)
    # Where the line crosses each edge: between the last point before it and the first after.
    last = x.size - 1
    before = np.maximum(starts - 1, 0)
    after = np.minimum(starts, last)
    xa, xb = x[before], x[after]
    ya, yb = y[before], y[after]
    with np.errstate(invalid="ignore", divide="ignore"):
        crossing = ya + (yb - ya) * ((edges - xa) / (xb - xa))
    # No line crosses an edge before the first point or after the last one.
    crossing[(starts == 0) | (starts > last)] = np.nan
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
    as a pen that much wider would. A column without a span gets ``first == stop`` (nothing).
    Columns run along the last axis, so one call can take many curves' spans stacked.
    """
    scale = rows / (top - bottom) if top != bottom else 0.0
    limit = rows + extra + 1
    with np.errstate(invalid="ignore"):
        first = np.floor(np.clip((top - high) * scale, -extra - 1, limit))
        stop = np.floor(np.clip((top - low) * scale, -extra - 1, limit)) + 1
    empty = np.isnan(first) | np.isnan(stop)
    if extra > 0:
        first -= extra
        stop += extra
        first[empty] = math.inf
        stop[empty] = -math.inf
        wide_first, wide_stop = first.copy(), stop.copy()
        for shift in range(1, extra + 1):
            np.minimum(wide_first[..., shift:], first[..., :-shift], out=wide_first[..., shift:])
            np.minimum(wide_first[..., :-shift], first[..., shift:], out=wide_first[..., :-shift])
            np.maximum(wide_stop[..., shift:], stop[..., :-shift], out=wide_stop[..., shift:])
            np.maximum(wide_stop[..., :-shift], stop[..., shift:], out=wide_stop[..., :-shift])
        first, stop = wide_first, wide_stop
        empty = np.isinf(first) | np.isinf(stop)
    first[empty] = 0.0
    stop[empty] = 0.0
    return first, stop
