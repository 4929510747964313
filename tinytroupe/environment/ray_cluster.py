"""What the Ray backend asks of the cluster: Ray itself, its limit ledger, node choice.

Kept apart from `tinytroupe.environment.ray_backend` (which places agents and runs
their turns) because none of it depends on a world: importing Ray with a clear error,
the one `LimitLedger` actor every world of the cluster shares, and where to put an
actor so that it does not share a node with another.
"""

from __future__ import annotations

from typing import Any

from tinytroupe.clients.cluster_limits import LimitLedger
from tinytroupe.config import ConfigError, config_manager

#: Seconds the driver waits beyond the step timeout for actors to answer.
GRACE = 5.0


def import_ray() -> Any:
    """The `ray` module; raises `ConfigError` (with the install hint) if Ray is missing."""
    try:
        import ray
    except ImportError:
        raise ConfigError("EXECUTION_BACKEND=ray needs Ray, which is not installed: "
                          "pip install 'tinytroupe[ray]' (or use EXECUTION_BACKEND=threads)",
                          key="EXECUTION_BACKEND", value="ray") from None
    return ray


class RayLedger:
    """Calls the cluster's `LimitLedger` actor: what a `LeasedGate` on an actor uses."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    def __call__(self, method: str, *args: Any) -> Any:
        """``ledger.method(*args)``, waited for (a lease is small and local)."""
        import ray

        return ray.get(getattr(self.actor, method).remote(*args))

    def tell(self, method: str, *args: Any) -> None:
        """``ledger.method(*args)``, not waited for (giving back what is not needed)."""
        getattr(self.actor, method).remote(*args)


def limit_ledger(ray: Any) -> RayLedger | None:
    """The cluster's one `LimitLedger` for the configured provider limits, if any.

    The per-minute limits and MAX_CONCURRENT_MODEL_CALLS. A named actor: every world
    (and driver) of the cluster with the same limits shares it, so the limits hold for
    all of them together.
    """
    requests = config_manager.get("max_requests_per_minute")
    tokens = config_manager.get("max_tokens_per_minute")
    concurrent = config_manager.get("max_concurrent_model_calls") or None
    if not (requests or tokens or concurrent):
        return None
    window = config_manager.get("rate_limit_window_seconds")
    actor = ray.remote(LimitLedger).options(
        name=f"tinytroupe-limits-{requests}-{tokens}-{window}-{concurrent}",
        namespace="tinytroupe", get_if_exists=True, num_cpus=0, max_concurrency=64)
    return RayLedger(actor.remote(requests, tokens, window, concurrent))


def node_other_than(ray: Any, node: str | None, index: int) -> Any:
    """A scheduling strategy for an actor that must not run on `node`.

    One of the other live nodes, chosen by `index` (so that the actors of many shards
    spread over them), held to by hard node affinity; SPREAD when there is no other.
    """
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    others = sorted(n["NodeID"] for n in ray.nodes() if n.get("Alive") and n["NodeID"] != node)
    if not others:
        return "SPREAD"
    return NodeAffinitySchedulingStrategy(others[index % len(others)], soft=False)
