"""The trained tagger: load the CRFsuite model shipped in ``deid/data/`` and turn its tags into spans."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pycrfsuite

from deid.labels import Label
from deid.tagger.features import FEATURE_VERSION, sentence_features
from deid.tagger.tokens import spans_of, tokenize
from fednode.errors import ConfigError, DeidModelError

MODEL_FILE = "tagger.crfsuite"
"""The shipped model; its card (feature version, digest, what it was trained on, its threshold) is beside it
with the suffix ``.json``."""

TAGGED_LABELS: frozenset[Label] = frozenset(
    {Label.PERSON, Label.ORGANIZATION, Label.LOCATION, Label.ADDRESS, Label.ID, Label.AGE}
)
"""Labels the tagger's spans are taken for; the rest (dates, phones, identifiers with checksums) the rules
find better, and the tagger's guesses there would only cost precision."""


@dataclass(frozen=True)
class TaggedSpan:
    """A span the tagger found: where, which label, and the tagger's confidence (0-1)."""

    start: int
    end: int
    label: Label
    probability: float


class SpanTagger:
    """A CRFsuite model over :func:`deid.tagger.features.sentence_features`.

    A token the best path leaves outside every span is still taken when the model's probability that it is PHI
    reaches ``threshold`` (below 0.5 trades precision for recall: a leaked name costs more than a masked word).
    """

    def __init__(self, model_path: Path, threshold: float = 0.5) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ConfigError(f"tagger threshold {threshold} is not in (0, 1]")
        self.model_path = model_path
        self.threshold = threshold
        self._tagger = pycrfsuite.Tagger()
        try:
            self._tagger.open(str(model_path))
        except (OSError, ValueError) as exc:
            raise DeidModelError(f"{model_path}: not a CRFsuite model ({exc})") from exc
        self._phi_tags = tuple(t for t in self._tagger.labels() if t != "O")
        self._known: frozenset[str] | None = frozenset(attribute for attribute, _ in self._tagger.info().state_features)
        self._lock = threading.Lock()

    def spans(self, text: str, lang: str) -> list[TaggedSpan]:
        """The spans of ``text`` (in ``lang``) the model tags, with their confidence."""
        tokens = tokenize(text)
        if not tokens or not self._phi_tags:
            return []
        features = sentence_features(text, tokens, lang, self._known)
        with self._lock:  # CRFsuite's tagger holds the sequence it was last given
            tags, probs = self._decode(features)
        return [
            TaggedSpan(s, e, Label(label), p)
            for s, e, label, p in spans_of(tokens, tags, probs)
            if label in Label.__members__
        ]

    def _decode(self, features: list[list[str]]) -> tuple[list[str], list[float]]:
        tagger = self._tagger
        tagger.set(features)
        tags: list[str] = tagger.tag()
        probs: list[float] = []
        for t, tag in enumerate(tags):
            if tag != "O":
                probs.append(tagger.marginal(tag, t))
                continue
            phi = 1.0 - tagger.marginal("O", t)
            if phi >= self.threshold:
                marginals = {y: float(tagger.marginal(y, t)) for y in self._phi_tags}
                tags[t] = max(marginals, key=marginals.__getitem__)
            probs.append(phi)
        return tags, probs


def model_digest(path: Path) -> str:
    """The sha256 of a model file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_card(path: Path) -> dict[str, Any]:
    """The card beside a model, checked against the model's digest and this code's feature version."""
    card_path = path.with_suffix(".json")
    try:
        card: dict[str, Any] = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DeidModelError(f"{card_path}: cannot read the tagger's card ({exc})") from exc
    if card.get("feature_version") != FEATURE_VERSION:
        raise DeidModelError(
            f"{card_path}: feature_version {card.get('feature_version')!r}, this code computes {FEATURE_VERSION}: "
            "retrain with python -m bench.deid.tagger --train"
        )
    if card.get("sha256") != model_digest(path):
        raise DeidModelError(f"{path}: digest differs from {card_path.name}'s sha256 (model and card out of step)")
    return card


@cache
def default_tagger() -> SpanTagger:
    """The tagger shipped with the package, at the threshold its card names (loaded once per process)."""
    with resources.as_file(resources.files("deid.data").joinpath(MODEL_FILE)) as path:
        card = read_card(path)
        return SpanTagger(path, threshold=float(card["threshold"]))
