"""How the window writes times, durations, sizes and numbers, the same in every panel."""

from __future__ import annotations

import math
import time


def format_duration(seconds: float | None) -> str:
    """``850 ms``, ``4.2 s``, ``3 m 12 s``, ``1 h 02 m``, ``2 d 3 h``."""
    if seconds is None or math.isnan(seconds):
        return ""
    seconds = max(0.0, seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} m {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} m"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def format_time(stamp: float | None, now: float | None = None) -> str:
    """A local start time, short when recent: ``today 14:22``, ``3 May 14:22``, ``2023-05-03``."""
    if stamp is None:
        return ""
    moment = time.localtime(stamp)
    today = time.localtime(now if now is not None else time.time())
    if moment.tm_year == today.tm_year and moment.tm_yday == today.tm_yday:
        return time.strftime("today %H:%M", moment)
    if moment.tm_year == today.tm_year:
        return f"{moment.tm_mday} {time.strftime('%b %H:%M', moment)}"
    return time.strftime("%Y-%m-%d", moment)


def format_full_time(stamp: float | None) -> str:
    """A timestamp in local time with seconds, ``2024-05-03 14:22:05``."""
    return "" if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def format_number(value: float | None) -> str:
    """A metric value with four significant digits (``0.9312``, ``1.235e+05``)."""
    if value is None:
        return ""
    if math.isnan(value):
        return "NaN"
    if value == 0 or 1e-4 <= abs(value) < 1e6:
        text = f"{value:.4f}" if abs(value) < 1 else f"{value:.4g}"
        return text
    return f"{value:.4g}"


def human_size(size: int) -> str:
    """A byte count for people: "812 B", "4.2 KB", "1.3 GB" (powers of 1024)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
