"""One HTTP request to a model server, as the launcher and "Try it" make them (stdlib only)."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

# What a request raises when the server does not answer.
NO_ANSWER = (OSError, http.client.HTTPException)


def call(
    url: str,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    token: str | None = None,
    timeout: float = 5.0,
) -> tuple[int, bytes]:
    """Send one request to the server at ``url``; return its status and body.

    A JSON body is labelled as such; a token goes in a bearer header. Raises one of
    ``NO_ANSWER`` when the server cannot be reached or breaks off.
    """
    parts = urlsplit(url)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout
    )
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
