"""Persona generation: `TinyPersonFactory` (TinyTroupe's API) on the parallel machinery."""

from tinytroupe.factory.tiny_person_factory import PersonGenerationError, TinyPersonFactory

__all__ = ["PersonGenerationError", "TinyPersonFactory"]
