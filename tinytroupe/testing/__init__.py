"""Test and benchmark helpers: a fake OpenAI-compatible server with latency and faults.

    from tinytroupe.testing import FakeLLMServer, FaultPlan

    with FakeLLMServer(latency=0.1, faults=FaultPlan(probabilities={"429": 0.05})) as server:
        ...  # point the client at server.base_url

The server classes are imported on first use, so that ``python -m
tinytroupe.testing.fake_llm`` does not import its own module twice.
"""

from __future__ import annotations

import importlib
from typing import Any

from tinytroupe.testing.faults import KINDS, FaultPlan

__all__ = ["KINDS", "FakeLLMProcess", "FakeLLMServer", "FaultPlan"]


#: Lazily imported names, and the module each lives in.
_LAZY = {
    "FakeLLMServer": "tinytroupe.testing.fake_llm",
    "FakeLLMProcess": "tinytroupe.testing.process",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
