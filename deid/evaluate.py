"""Evaluation against gold PHI spans: entity- and character-level precision, recall and F2, per label and per
language.

Entity level: a gold span is found when a predicted span with the same label overlaps it; a predicted span is
correct when it overlaps a gold span with the same label. ``ANY`` ignores labels (what privacy needs: was the
text replaced at all); per label, ``removed`` counts that label's gold spans overlapped by a prediction of any
label (the "binary" reading of de-identification evaluations: the span is replaced, if by another kind).
Character level counts characters inside gold/predicted spans of each label.
F2 weighs recall twice as much as precision, as de-identification should. A gold set may also mark distractors
(text a careless de-identifier would remove but must keep: lab values, doses, codes, invalid IDs, eponyms); the
share of them that a prediction overlaps is counted per language.

:class:`Targets` is the quality goal a report is checked against (:meth:`EvalReport.failures`); its defaults are
issue 15's: recall 0.98 overall and 0.95 for every label and every language, precision 0.90, at most 5 % of the
distractors flagged.
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


def distractors_flagged(distractors: Sequence[tuple[int, int]], pred: Sequence[Span]) -> int:
    """How many of a note's distractor spans a predicted span overlaps."""
    return sum(any(d[0] < p[1] and p[0] < d[1] for p in pred) for d in distractors)


@dataclass(frozen=True)
class Targets:
    """A quality goal. ``own_label``: a label's recall counts only spans found under that label; by default a span
    counts when it is removed under any label (the "binary" reading: its text is gone, if as another kind)."""

    recall: float = 0.98
    label_recall: float = 0.95
    language_recall: float = 0.95
    precision: float = 0.90
    max_distractors: float = 0.05
    own_label: bool = False

    def to_dict(self) -> dict[str, float | bool]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class EvalReport:
    """Metrics per language and label (``ALL`` languages, ``ANY`` label), and distractors flagged per language."""

    by: dict[str, dict[str, Counts]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(Counts)))
    distractors: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    notes: int = 0

    def add(self, lang: str, counts: dict[str, Counts], flagged: int = 0, distractors: int = 0) -> None:
        """One note's counts, and how many of its ``distractors`` were ``flagged``."""
        self.notes += 1
        for label, c in counts.items():
            self.by[lang][label].add(c)
            self.by[ALL][label].add(c)
        for key in (lang, ALL):
            self.distractors[key][0] += flagged
            self.distractors[key][1] += distractors

    def distractor_rates(self) -> dict[str, dict[str, float | int]]:
        """``{lang: {flagged, total, rate}}`` (and ``ALL``) for the languages whose notes mark distractors."""
        return {
            lang: {"flagged": f, "total": t, "rate": round(f / t, 4)}
            for lang, (f, t) in sorted(self.distractors.items())
            if t
        }

    def to_dict(self) -> dict[str, object]:
        return {
            "notes": self.notes,
            "metrics": {
                lang: {label: c.metrics() for label, c in sorted(labels.items())}
                for lang, labels in sorted(self.by.items())
            },
            "distractors": self.distractor_rates(),
        }

    def failures(self, targets: Targets) -> list[str]:
        """Each target the report misses, as a line naming the figure and its goal (empty: every target met).
        A target with nothing to measure (no gold span, no distractor) is not a failure; :meth:`unchecked` names it."""
        bad: list[str] = []
        every = self.by.get(ALL, {})
        overall = every[ANY].metrics() if ANY in every else None
        if overall is not None and overall["gold"] and float(overall["recall"]) < targets.recall:
            bad.append(f"recall {overall['recall']:.3f} < {targets.recall}")
        if overall is not None and overall["pred"] and float(overall["precision"]) < targets.precision:
            bad.append(f"precision {overall['precision']:.3f} < {targets.precision}")
        which = "recall" if targets.own_label else "removed"
        for label, c in sorted(every.items()):
            m = c.metrics()
            if label != ANY and m["gold"] and float(m[which]) < targets.label_recall:
                bad.append(f"{label} {which} {m[which]:.3f} < {targets.label_recall}")
        for lang, labels in sorted(self.by.items()):
            if lang == ALL or ANY not in labels:
                continue
            lm = labels[ANY].metrics()
            if lm["gold"] and float(lm["recall"]) < targets.language_recall:
                bad.append(f"{lang} recall {lm['recall']:.3f} < {targets.language_recall}")
        rate = self.distractor_rates().get(ALL)
        if rate is not None and float(rate["rate"]) > targets.max_distractors:
            bad.append(f"distractors flagged {rate['rate']:.3f} > {targets.max_distractors}")
        return bad

    def unchecked(self) -> list[str]:
        """Targets that had nothing to measure in this gold set."""
        out = []
        if not self.by.get(ALL, {}).get(ANY, Counts()).gold:
            out.append("recall (no gold PHI span)")
        if ALL not in self.distractor_rates():
            out.append("distractors (the gold set marks none)")
        return out


def evaluate(pairs: Iterable[tuple[str, Sequence[Span], Sequence[Span]]]) -> EvalReport:
    """Score ``(lang, gold spans, predicted spans)`` for every note."""
    report = EvalReport()
    for lang, gold, pred in pairs:
        report.add(lang, score_note(gold, pred))
    return report
