"""Results from simulations (upstream's `tinytroupe.extraction`).

`ResultsExtractor` (model-read results, many agents concurrently), `ResultsReducer`
(rule-based rows from memories), `ArtifactExporter` (text, JSON, Markdown, Word files)
and `Normalizer` (model-grouped concepts). pandas and python-docx are optional
(``pip install 'tinytroupe[extraction]'``): only the calls that need them do.
"""

from tinytroupe.extraction.artifact_exporter import ArtifactExporter
from tinytroupe.extraction.normalizer import Normalizer
from tinytroupe.extraction.results_extractor import ResultsExtractor
from tinytroupe.extraction.results_reducer import ResultsReducer

__all__ = ["ArtifactExporter", "Normalizer", "ResultsExtractor", "ResultsReducer",
           "default_extractor"]

#: A ready extractor with the default objective (upstream's module-level instance).
default_extractor = ResultsExtractor()
