"""``modeldesk doctor``: check the registry, Git, ports and permissions, and say how to fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from desktop_app.diagnostics import Check, Diagnostics


def register(cli: click.Group) -> None:
    """Add the ``doctor`` command."""
    from desktop_app.cli_common import _REGISTRY_KEY, echo_json, fail, json_option, registry_option

    @cli.command(name="doctor")
    @json_option
    @registry_option
    def doctor_command(as_json: bool) -> None:
        """Check that ModelDesk can work here, and say how to fix what is wrong.

        Looks at the registry (it opens; its database and artifact files are intact), the
        registry and data folders (writable), Git (installed, recent enough), the loopback
        network (model servers need free ports on 127.0.0.1) and the system libraries the
        window needs. Exit code 1 if any check failed; warnings do not fail.
        """
        from desktop_app import diagnostics
        from desktop_app.registry.paths import resolve_registry_path

        registry = click.get_current_context().meta.get(_REGISTRY_KEY)
        checks = diagnostics.run_checks(registry)
        info = diagnostics.gather(resolve_registry_path(registry))
        failed = [c for c in checks if c.failed]
        if as_json:
            echo_json(
                {
                    "ok": not failed,
                    "diagnostics": info.as_dict(),
                    "checks": [c.as_dict() for c in checks],
                }
            )
        else:
            click.echo(format_report(info, checks))
        if failed:
            fail(f"{len(failed)} check(s) failed: {', '.join(c.name for c in failed)}.")


def format_report(info: Diagnostics, checks: Sequence[Check]) -> str:
    """A header with the versions, then one line per check and a ``Fix:`` line under problems."""
    kind = "bundled" if info.frozen else "from source"
    header = (
        f"ModelDesk {info.version} ({kind}), Python {info.python.split()[0]}, "
        f"scikit-learn {info.packages.get('scikit-learn', '?')}, "
        f"PySide6 {info.packages.get('PySide6', '?')}"
    )
    width = max(len(c.name) for c in checks)
    lines = [header, ""]
    for check in checks:
        lines.append(f"{check.status!s:<4}  {check.name.ljust(width)}  {check.detail}")
        if check.fix and check.status != "OK":
            lines.append(f"{'':<4}  {'':<{width}}  Fix: {check.fix}")
    return "\n".join(lines)
