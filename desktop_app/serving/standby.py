"""The warm standby: a server process that has paid its imports and waits for a model.

Importing scikit-learn, skops and uvicorn takes seconds; the launcher keeps one standby
process started early, and sends it one JSON line on stdin when the user clicks Serve. From
then on it is exactly ``modeldesk serve`` with those options. EOF before the line (the
launcher quit) ends the process quietly with exit code 0.
"""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING

from desktop_app.serving.server import ServeOptions, options_from_json

if TYPE_CHECKING:
    from desktop_app.registry.store import Registry

# The usual estimators' modules too: a standby pays these imports before it is needed.
WARM_MODULES = (
    "numpy",
    "scipy.special",
    "sklearn",
    "sklearn.base",
    "sklearn.pipeline",
    "sklearn.compose",
    "sklearn.preprocessing",
    "sklearn.impute",
    "sklearn.linear_model",
    "sklearn.ensemble",
    "sklearn.tree",
    "skops.io",
    "orjson",
    "prometheus_client",
    "psutil",
    "uvicorn",
    "uvicorn.protocols.http.httptools_impl",
    "uvloop",
    "desktop_app.serving.app",
    "desktop_app.serving.openapi",
    "desktop_app.registry.model_files",
)


def warm_up() -> None:
    """Import everything a server needs, so that serving starts in well under a second."""
    from desktop_app.serving.server import import_serving_stack

    import_serving_stack(WARM_MODULES)


def wait_for_options(stdin: IO[str] | None = None) -> ServeOptions | None:
    """Read the configuration line; None when stdin closes first."""
    line = (stdin or sys.stdin).readline()
    if not line.strip():
        return None
    return options_from_json(line)


def run_standby(registry: Registry, stdin: IO[str] | None = None) -> int:
    """Warm up, wait for the configuration line, then serve; return the exit code."""
    from desktop_app.serving.server import serve

    warm_up()
    options = wait_for_options(stdin)
    if options is None:
        return 0
    return serve(registry, options)
