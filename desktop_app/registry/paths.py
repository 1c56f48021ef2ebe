"""Where registries live: an explicit path, ``$MODELDESK_REGISTRY``, or the user data folder."""

from __future__ import annotations

import os
from pathlib import Path

ENV_REGISTRY = "MODELDESK_REGISTRY"


def default_registry_path() -> Path:
    """The embedded default registry folder inside the user's data folder."""
    import platformdirs

    return Path(platformdirs.user_data_dir("ModelDesk", appauthor=False)) / "registry"


def resolve_registry_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The registry folder to open: the argument, else the environment, else the default."""
    if path:
        return Path(path).expanduser()
    env = os.environ.get(ENV_REGISTRY)
    if env:
        return Path(env).expanduser()
    return default_registry_path()
