"""tinytroupe: LLM multi-agent persona simulation with robust parallel world execution.

Public API follows Microsoft's TinyTroupe: `tinytroupe.agent.TinyPerson`,
`tinytroupe.environment.TinyWorld` and `tinytroupe.config_manager`.
"""

import logging

from tinytroupe.config import ConfigError, config_defaults, config_manager

__version__ = "0.1.0"
__all__ = ["ConfigError", "__version__", "config_defaults", "config_manager"]

logging.getLogger("tinytroupe").setLevel(config_manager.get("loglevel") or "ERROR")
