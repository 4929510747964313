"""tinytroupe: LLM multi-agent persona simulation with robust parallel world execution.

Public API follows Microsoft's TinyTroupe: `tinytroupe.agent.TinyPerson`,
`tinytroupe.environment.TinyWorld` and `tinytroupe.config_manager`.
"""

import logging

from tinytroupe.config import ConfigError, config_defaults, config_manager
from tinytroupe.redaction import install_log_filter

__version__ = "0.1.0"
__all__ = ["ConfigError", "__version__", "config_defaults", "config_manager"]

# The level follows LOGLEVEL (applied when the configuration is read or set); until
# then WARNING. Every record passes the key-redacting filter.
logging.getLogger("tinytroupe").setLevel(logging.WARNING)
install_log_filter(logging.getLogger("tinytroupe"))
