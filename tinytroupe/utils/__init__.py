"""Helpers under TinyTroupe's names, importable flat from ``tinytroupe.utils``.

Text and display (`break_text_at_length`, `dedent`, ...), JSON handling
(`extract_json`, `merge_dicts`, `JsonSerializableRegistry`, ...), sanitising of untrusted
strings, ids and hashes, retries, and the configuration/logging helpers
(`read_config_file`, `start_logger`, `set_loglevel`, ...). Importing this package needs
only the standard library and what ``tinytroupe`` itself imports.
"""

from __future__ import annotations

import logging

from tinytroupe.utils import config, json_tools, misc, text, validation
from tinytroupe.utils.config import *  # noqa: F403
from tinytroupe.utils.json_tools import *  # noqa: F403
from tinytroupe.utils.misc import *  # noqa: F403
from tinytroupe.utils.text import *  # noqa: F403
from tinytroupe.utils.validation import *  # noqa: F403

#: The library's logger (TinyTroupe's modules log through ``utils.logger``).
logger = logging.getLogger("tinytroupe")

__all__ = ["logger",
           *config.__all__, *json_tools.__all__, *misc.__all__, *text.__all__,
           *validation.__all__]
