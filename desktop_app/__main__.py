"""``modeldesk`` / ``python -m desktop_app``: the desktop app, or the command line with a command.

``modeldesk`` alone (optionally with ``--registry PATH``) opens the window; anything else goes
to the command line in ``desktop_app.cli``. Qt is imported only when the window opens, and the
command line only when a command runs, so neither pays for the other.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def _gui_request(args: Sequence[str]) -> tuple[bool, str | None]:
    """Whether ``args`` ask for the window, and the registry folder they name."""
    if not args:
        return True, None
    if len(args) == 2 and args[0] == "--registry" and not args[1].startswith("-"):
        return True, args[1]
    if len(args) == 1 and args[0].startswith("--registry=") and len(args[0]) > len("--registry="):
        return True, args[0].split("=", 1)[1]
    return False, None


def main(argv: list[str] | None = None) -> int:
    """Open the desktop app, or run a command-line command; return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        from desktop_app import __version__

        print(f"modeldesk {__version__}")
        return 0
    gui, registry = _gui_request(args)
    if gui:
        from desktop_app.ui import app

        return int(app.main(registry) or 0)
    from desktop_app.cli import run_cli

    return run_cli(args)


if __name__ == "__main__":
    sys.exit(main())
