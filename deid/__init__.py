"""Clinical-text de-identification for Nordic-Baltic notes, on Microsoft Presidio, fully offline.

The light names (labels, spans, the offset map) import without Presidio or spaCy; the engine and the batch
functions load them on first use::

    from deid import Deidentifier
    result = Deidentifier(key=site_key).deidentify(text, "nb", patient="p1")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deid.labels import LANGUAGES, Label, normalise_language
from deid.offsets import OffsetMap, Replacement
from deid.spans import PhiSpan

if TYPE_CHECKING:
    from deid.engine import Deidentifier, DeidResult
    from deid.synthetic import make_phi_header

_LAZY = {
    "Deidentifier": "deid.engine",
    "DeidResult": "deid.engine",
    "make_phi_header": "deid.synthetic",
}


def __getattr__(name: str) -> Any:
    """Import the heavy parts (Presidio, spaCy, Faker) only when they are asked for."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'deid' has no attribute {name!r}")


__all__ = [
    "LANGUAGES",
    "DeidResult",
    "Deidentifier",
    "Label",
    "OffsetMap",
    "PhiSpan",
    "Replacement",
    "make_phi_header",
    "normalise_language",
]
