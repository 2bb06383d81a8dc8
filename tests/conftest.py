"""Shared fixtures. The Prefect test server starts at most once per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def prefect_server():
    """A real (temporary) Prefect API server for the end-to-end tests, started once."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="session")
def deployed(prefect_server):
    """prefect.yaml's deployments registered once on the session's server (``prefect deploy``
    takes ~11 s; it is idempotent, so the e2e tests that need them share one)."""
    from prefect.settings import get_current_settings

    from isletflow.serve import deploy

    deploy({**os.environ, "PREFECT_API_URL": str(get_current_settings().api.url)})
