"""Number work shared by charts: EMA smoothing, peak-keeping decimation, nice ticks, x modes."""

from __future__ import annotations

import itertools
import math
from typing import Literal

import numpy as np

XMode = Literal["step", "wall", "relative"]
X_MODES: dict[str, str] = {"step": "Step", "wall": "Wall time", "relative": "Relative time"}


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """Debiased exponential moving average (as TensorBoard draws it); NaNs stay gaps.

    ``weight`` in [0, 1): 0 returns the values unchanged, 0.99 smooths heavily.
    """
    values = np.asarray(values, dtype=float)
    if weight <= 0 or values.size == 0:
        return values.copy()
    weight = min(float(weight), 0.999)
    finite = np.isfinite(values)
    if not finite.any():
        return values.copy()
    from scipy.signal import lfilter

    # A gap repeats the last value (NaN would poison the filter), then goes back to NaN.
    index = np.where(finite, np.arange(values.size), 0)
    np.maximum.accumulate(index, out=index)
    filled = values[index]
    first = int(np.argmax(finite))
    filled[:first] = 0.0
    smoothed = lfilter([1.0 - weight], [1.0, -weight], filled)
    # Debias: divide by the total weight of the points seen so far, so the start is not pulled to 0.
    seen = np.maximum(np.arange(values.size) - first + 1, 1)
    result = smoothed / (1.0 - weight**seen)
    result[~finite] = np.nan
    return result


def decimate(x: np.ndarray, y: np.ndarray, max_points: int = 800) -> tuple[np.ndarray, np.ndarray]:
    """At most about ``max_points`` points keeping each bucket's min and max (peaks survive)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = x.size
    if n <= max_points:
        return x, y
    buckets = max(max_points // 2, 1)
    edges = np.linspace(0, n, buckets + 1).astype(int)
    keep: list[int] = []
    for start, stop in itertools.pairwise(edges):
        if stop <= start:
            continue
        chunk = y[start:stop]
        if np.isfinite(chunk).any():
            low = start + int(np.nanargmin(chunk))
            high = start + int(np.nanargmax(chunk))
            keep.extend(sorted({low, high}))
        else:
            keep.append(start)
    order = np.asarray(keep, dtype=int)
    return x[order], y[order]


def x_values(
    steps: np.ndarray, timestamps: np.ndarray, mode: str, start_time: float | None = None
) -> np.ndarray:
    """The x of each point: its step, its wall-clock time or seconds since the run began."""
    if mode == "step":
        return np.asarray(steps, dtype=float)
    stamps = np.asarray(timestamps, dtype=float)
    if mode == "wall":
        return stamps
    if mode == "relative":
        if stamps.size == 0:
            return stamps
        origin = float(stamps.min())
        if start_time is not None and start_time <= origin:
            origin = float(start_time)
        return stamps - origin
    raise ValueError(f"unknown x mode {mode!r}")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high], about ``count`` of them."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high < low:
        low, high = high, low
    if high == low:
        return [low]
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else round(value, 12))
        value += step
    return ticks


def format_number(value: float | None, digits: int = 4) -> str:
    """A value in ``digits`` significant digits; blank for None, "NaN" and "∞" spelled out."""
    if value is None:
        return ""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == int(value) and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.{digits}g}"


def format_seconds(seconds: float) -> str:
    """A span of seconds on an axis: ``45s``, ``12m``, ``1h30m``."""
    if not math.isfinite(seconds):
        return ""
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{sign}{seconds:.3g}s"
    if seconds < 3600:
        minutes, secs = divmod(round(seconds), 60)
        return f"{sign}{minutes}m{secs:02d}s" if secs else f"{sign}{minutes}m"
    hours, rest = divmod(round(seconds), 3600)
    return f"{sign}{hours}h{rest // 60:02d}m"
