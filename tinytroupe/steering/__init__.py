"""Steering simulations (upstream's `tinytroupe.steering`): stories told from them."""

from tinytroupe.steering.tiny_story import TinyStory

__all__ = ["TinyStory"]
