"""One de-identifier for the whole deid test session (building it loads spaCy and the name lists: ~5-10 s)."""

from __future__ import annotations

import pytest

from deid.engine import Deidentifier


@pytest.fixture(scope="session")
def deidentifier() -> Deidentifier:
    return Deidentifier(operator="surrogate", key=b"test-site-secret-key-32-bytes!!!")


@pytest.fixture(scope="session")
def rules_deidentifier(deidentifier: Deidentifier) -> Deidentifier:
    """The same rules without the learned tagger, for tables that test what a rule does on its own."""
    return Deidentifier(operator="surrogate", key=deidentifier.key, analyzer=deidentifier.analyzer, tagger=False)


def found(recognizer: object, text: str) -> list[str]:
    """The texts a recognizer returns for ``text``, in order."""
    results = recognizer.analyze(text, [])  # type: ignore[attr-defined]
    return [text[r.start : r.end] for r in sorted(results, key=lambda r: r.start)]
