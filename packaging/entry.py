"""The frozen executable's entry point: ``modeldesk`` opens the window or runs a command.

PyInstaller needs a script, not a ``module:function``; this one adds what a frozen build needs
before handing over to ``desktop_app.__main__.main``. Libraries that start helper processes
with ``sys.executable`` expect it to be Python: joblib's loky runs ``EXE -m MODULE ...`` and
multiprocessing's resource tracker ``EXE -B -c CODE``. In the bundle ``sys.executable`` is this
app, so those two forms (after Python's own flags) are run here the way Python would.
"""

from __future__ import annotations

import multiprocessing
import os
import sys

# Python's flags that take no value (``-B``, ``-s``, ``-E``... as helper processes pass them).
_FLAGS = set("bBdEiIOqRsSuvx")


def python_command(args: list[str]) -> tuple[str, str, list[str]] | None:
    """``("-c", code, rest)`` or ``("-m", module, rest)`` when ``args`` are Python's options."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-c", "-m"):
            return (arg, args[i + 1], args[i + 2 :]) if i + 1 < len(args) else None
        if arg in ("-W", "-X"):
            i += 2
        elif arg.startswith(("-W", "-X")) or (
            len(arg) > 1 and arg[0] == "-" and set(arg[1:]) <= _FLAGS
        ):
            i += 1
        else:
            return None
    return None


def run_python_command(option: str, target: str, rest: list[str]) -> None:
    """Run ``-c CODE`` or ``-m MODULE`` with ``rest`` as its arguments, as Python does."""
    import runpy

    if option == "-c":
        sys.argv = ["-c", *rest]
        sys.path.insert(0, "")
        exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})
    else:
        sys.argv = [target, *rest]
        sys.path.insert(0, os.getcwd())
        runpy.run_module(target, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    # multiprocessing's own re-runs (--multiprocessing-fork) end inside freeze_support.
    multiprocessing.freeze_support()
    command = python_command(sys.argv[1:])
    if command is not None:
        run_python_command(*command)
        sys.exit(0)
    from desktop_app.__main__ import main

    sys.exit(main())
