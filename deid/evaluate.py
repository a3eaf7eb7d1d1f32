"""Evaluation against gold PHI spans: entity- and character-level precision, recall and F2, per label and per
language.

Entity level: a gold span is found when a predicted span with the same label overlaps it; a predicted span is
correct when it overlaps a gold span with the same label. ``ANY`` ignores labels (what privacy needs: was the
text replaced at all); per label, ``removed`` counts that label's gold spans overlapped by a prediction of any
label (the "binary" reading of de-identification evaluations: the span is replaced, if by another kind).
Character level counts characters inside gold/predicted spans of each label.
F2 weighs recall twice as much as precision, as de-identification should.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

ANY = "ANY"
ALL = "ALL"


@dataclass
class Counts:
    """True/false positives and false negatives, at entity and character level."""

    gold: int = 0
    pred: int = 0
    gold_found: int = 0
    gold_removed: int = 0
    pred_correct: int = 0
    char_gold: int = 0
    char_pred: int = 0
    char_tp: int = 0

    def add(self, other: Counts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def metrics(self) -> dict[str, float | int]:
        def prf(tp_p: int, pred: int, tp_r: int, gold: int) -> tuple[float, float, float]:
            p = tp_p / pred if pred else 1.0
            r = tp_r / gold if gold else 1.0
            f2 = 5 * p * r / (4 * p + r) if (p + r) else 0.0
            return round(p, 4), round(r, 4), round(f2, 4)

        p, r, f2 = prf(self.pred_correct, self.pred, self.gold_found, self.gold)
        cp, cr, cf2 = prf(self.char_tp, self.char_pred, self.char_tp, self.char_gold)
        return {
            "gold": self.gold,
            "pred": self.pred,
            "precision": p,
            "recall": r,
            "removed": round(self.gold_removed / self.gold, 4) if self.gold else 1.0,
            "f2": f2,
            "char_precision": cp,
            "char_recall": cr,
            "char_f2": cf2,
        }


Span = tuple[int, int, str]


def _overlap(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def score_note(gold: Sequence[Span], pred: Sequence[Span]) -> dict[str, Counts]:
    """Counts per label (and ``ANY``) for one note."""
    out: dict[str, Counts] = defaultdict(Counts)
    labels = {s[2] for s in gold} | {s[2] for s in pred}
    for label in [*labels, ANY]:
        g = [s for s in gold if label in (ANY, s[2])]
        p = [s for s in pred if label in (ANY, s[2])]
        c = out[label]
        c.gold, c.pred = len(g), len(p)
        c.gold_found = sum(any(_overlap(x, y) for y in p) for x in g)
        c.gold_removed = sum(any(_overlap(x, y) for y in pred) for x in g)
        c.pred_correct = sum(any(_overlap(y, x) for x in g) for y in p)
        gchars = {i for s in g for i in range(s[0], s[1])}
        pchars = {i for s in p for i in range(s[0], s[1])}
        c.char_gold, c.char_pred, c.char_tp = len(gchars), len(pchars), len(gchars & pchars)
    return out


@dataclass
class EvalReport:
    """Metrics per language and label (``ALL`` languages, ``ANY`` label), and the error examples' positions."""

    by: dict[str, dict[str, Counts]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(Counts)))
    notes: int = 0

    def add(self, lang: str, counts: dict[str, Counts]) -> None:
        self.notes += 1
        for label, c in counts.items():
            self.by[lang][label].add(c)
            self.by[ALL][label].add(c)

    def to_dict(self) -> dict[str, object]:
        return {
            "notes": self.notes,
            "metrics": {
                lang: {label: c.metrics() for label, c in sorted(labels.items())}
                for lang, labels in sorted(self.by.items())
            },
        }

    def failures(self, min_recall: float, min_precision: float) -> list[str]:
        """``lang/label`` pairs (over all languages) that miss a target."""
        bad = []
        for label, c in sorted(self.by[ALL].items()):
            m = c.metrics()
            if float(m["recall"]) < min_recall or float(m["precision"]) < min_precision:
                bad.append(f"{ALL}/{label}")
        return bad


def evaluate(pairs: Iterable[tuple[str, Sequence[Span], Sequence[Span]]]) -> EvalReport:
    """Score ``(lang, gold spans, predicted spans)`` for every note."""
    report = EvalReport()
    for lang, gold, pred in pairs:
        report.add(lang, score_note(gold, pred))
    return report
