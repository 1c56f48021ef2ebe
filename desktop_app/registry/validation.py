"""Checks on keys and values before they reach the database, with messages fit for the user."""

from __future__ import annotations

import numbers
import re

from desktop_app.errors import InvalidValueError

MAX_KEY_LENGTH = 250
MAX_PARAM_LENGTH = 6000
MAX_TAG_LENGTH = 8000
_KEY_PATTERN = re.compile(r"^[\w\-. /:]+$")


def check_key(key: object, what: str) -> str:
    """A metric, param or tag key: non-empty text of safe characters."""
    if not isinstance(key, str):
        raise InvalidValueError(f"{what} names must be text, got {type(key).__name__}: {key!r}")
    if not key or key != key.strip():
        raise InvalidValueError(f"{what} name {key!r} is empty or has surrounding spaces.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidValueError(
            f"{what} name is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}: "
            f"{key[:40]!r}…"
        )
    if not _KEY_PATTERN.match(key):
        raise InvalidValueError(
            f"{what} name {key!r} has characters other than letters, digits, "
            "'_', '-', '.', ' ', '/' and ':'."
        )
    return key


def check_metric_value(key: str, value: object) -> float:
    """A metric value: any real number, NaN and infinities included."""
    if type(value) is float:  # the common case, without the slow ABC check below
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidValueError(
            f"Metric {key!r} must be a number, got {type(value).__name__}: {value!r:.60}"
        )
    return float(value)


def check_step(key: str, step: object) -> int:
    """A metric step: a whole number."""
    if type(step) is int:
        return step
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise InvalidValueError(f"Step of metric {key!r} must be an integer, got {step!r:.60}")
    return int(step)


def check_param_value(key: str, value: object) -> str:
    """A param value, stored as its text."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_PARAM_LENGTH:
        raise InvalidValueError(
            f"Param {key!r} is {len(text)} characters long; the limit is {MAX_PARAM_LENGTH}."
        )
    return text


def check_tag_value(key: str, value: object) -> str:
    """A tag value, stored as its text."""
    text = str(value)
    if len(text) > MAX_TAG_LENGTH:
        raise InvalidValueError(
            f"Tag {key!r} is {len(text)} characters long; the limit is {MAX_TAG_LENGTH}."
        )
    return text


def check_name(name: object, what: str) -> str:
    """An experiment, run or model name: non-empty text without control characters."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidValueError(f"{what} name must be non-empty text, got {name!r}")
    if len(name) > MAX_KEY_LENGTH or any(ord(c) < 32 for c in name):
        raise InvalidValueError(f"{what} name {name[:40]!r} is too long or has control characters.")
    return name.strip()
