"""Agents: `TinyPerson`, its memories (`EpisodicMemory`, `SemanticMemory`) and faculties."""

from tinytroupe.agent.grounding_faculty import FilesAndWebGroundingFaculty
from tinytroupe.agent.memory import EpisodicMemory
from tinytroupe.agent.mental_faculty import CustomMentalFaculty, TinyMentalFaculty
from tinytroupe.agent.persona import PersonaSpecError
from tinytroupe.agent.recall_faculty import RecallFaculty
from tinytroupe.agent.semantic_memory import SemanticMemory
from tinytroupe.agent.tiny_person import TinyPerson
from tinytroupe.agent.tool_use import TinyToolUse

__all__ = [
    "CustomMentalFaculty", "EpisodicMemory", "FilesAndWebGroundingFaculty", "PersonaSpecError",
    "RecallFaculty", "SemanticMemory", "TinyMentalFaculty", "TinyPerson", "TinyToolUse",
]
