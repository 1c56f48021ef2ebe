"""The one exception of the request path: an HTTP status with a message for the client."""

from __future__ import annotations


class RequestError(Exception):
    """A request the server refuses: an HTTP status and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> RequestError:
    """A 400 with ``message``."""
    return RequestError(400, message)
