"""Optional dependencies, imported when a feature needs them.

`import tinytroupe` loads none of pandas, scipy, matplotlib, python-docx, pypdf,
numpy or ipywidgets. A feature that needs one calls `require`, which imports it or
raises an `ImportError` that says which extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """`module` imported; ImportError naming ``pip install 'tinytroupe[extra]'`` if missing.

    `purpose` says what needs it ("profiling", "statistical tests", ...).
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        raise ImportError(f"{purpose} needs {package}, which is not installed: "
                          f"pip install 'tinytroupe[{extra}]'") from None
