"""``modeldesk doctor``: check the registry, Git, ports and permissions, and say how to fix."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    """Add the ``doctor`` command."""
