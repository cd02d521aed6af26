"""Optional dependencies, imported when first needed, with the extra that installs them in the error."""

from __future__ import annotations

import importlib
from typing import Any

from .errors import StylecoreError


def require(module: str, purpose: str, extra: str) -> Any:
    """``import module``, or a one-line error: ``{purpose} needs {module}: pip install 'stylecore[{extra}]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise StylecoreError(f"{purpose} needs {module}: pip install 'stylecore[{extra}]'") from exc
