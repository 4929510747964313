"""Enrichment: expand content (`TinyEnricher`) or restyle it (`TinyStyler`), upstream's API.

Both make one structured model call each and return the new text; both work on the
offline model and over any OpenAI-compatible endpoint. `TinyWordProcessor` uses an
enricher, when given one, to expand what agents write.
"""

import logging

from tinytroupe.enrichment.rewriter import Rewriter, rewriter_from_state
from tinytroupe.enrichment.tiny_enricher import TinyEnricher
from tinytroupe.enrichment.tiny_styler import TinyStyler

#: The library's logger (upstream's modules log through ``enrichment.logger``).
logger = logging.getLogger("tinytroupe")

__all__ = ["Rewriter", "TinyEnricher", "TinyStyler", "rewriter_from_state"]
