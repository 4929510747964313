"""Steering simulations (upstream's `tinytroupe.steering`): stories told from them."""

from tinytroupe.steering.intervention import Intervention, InterventionBatch
from tinytroupe.steering.tiny_story import TinyStory

__all__ = ["Intervention", "InterventionBatch", "TinyStory"]
