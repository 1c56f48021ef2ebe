"""``modeldesk models ...``: the model registry from the command line."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    """Add the ``models`` command group."""
