"""``modeldesk serve``: a model server in the foreground."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    """Add the ``serve`` command."""
