"""Fixtures shared by the integration tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def ray_runtime() -> Iterator[None]:
    """A local Ray runtime for one test module.

    Keys are not shipped to actors: the workers read them from the environment they
    inherit from this process, so it is set before Ray starts (and restored after).
    """
    ray = pytest.importorskip("ray")
    previous = os.environ.get("OPENAI_API_KEY")
    os.environ["OPENAI_API_KEY"] = "sk-test-not-a-real-key"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             ignore_reinit_error=True)
    yield
    ray.shutdown()
    if previous is None:
        os.environ.pop("OPENAI_API_KEY", None)
    else:
        os.environ["OPENAI_API_KEY"] = previous


@pytest.fixture(params=["curl", "urllib3"])
def each_transport(request: pytest.FixtureRequest) -> str:
    """Run a test once per HTTP transport (the client's contract holds for both)."""
    from tinytroupe import config_manager

    config_manager.set("http_transport", request.param)
    return request.param
