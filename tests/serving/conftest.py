"""Model servers for the serving tests, started once per session (see ``serving_helpers``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.serving.serving_helpers import Models, ServerProcess, fit_models, serve_args


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    """A registry with the three models (fitted once per session)."""
    base = tmp_path_factory.mktemp("serving")
    (base / "workspace").mkdir()
    return fit_models(base / "registry", base / "workspace")


@pytest.fixture(scope="session")
def servers(models: Models) -> Iterator[dict[str, ServerProcess]]:
    """The three models served (started together: their imports overlap)."""
    started = {
        name: ServerProcess(serve_args(models, name), session=True)
        for name in ("bc", "named", "mixed")
    }
    try:
        for server in started.values():
            server.wait_ready()
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(scope="session")
def bc_url(servers: dict[str, ServerProcess]) -> str:
    """URL of the plain matrix model's server."""
    return servers["bc"].url


@pytest.fixture
def http(servers: dict[str, ServerProcess]) -> Iterator[requests.Session]:
    """A keep-alive HTTP session."""
    with requests.Session() as session:
        yield session
