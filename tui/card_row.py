"""This site's own row of the model card, from the ``validate`` report the site recorded (numbers only)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from node.kit.crosssite import ALL_SCOPE, PREFIX, unflatten
from policies.contracts import RoundReport


def is_validation(report: RoundReport) -> bool:
    """Whether ``report`` is the site's cross-site evaluation of the final model, not a training round."""
    return any(name.startswith(PREFIX) for name in report.metrics)


def split_reports(reports: Sequence[RoundReport]) -> tuple[list[RoundReport], RoundReport | None]:
    """(training rounds, the last validation report or None)."""
    training = [r for r in reports if not is_validation(r)]
    validations = [r for r in reports if is_validation(r)]
    return training, (validations[-1] if validations else None)


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def card_row(report: RoundReport) -> Text:
    """``model card (this site's held-back split): F1 0.81 · precision 0.8 · recall 0.82 · support 150 ·
    en 0.82, sv suppressed``."""
    evaluation = unflatten(report.metrics)
    text = Text("model card ", style="bold")
    text.append("(this site's held-back split): ")
    overall = evaluation.groups.get(ALL_SCOPE)
    if overall is None or overall.suppressed:
        text.append("suppressed (fewer mentions than the policy's minimum support)", style="yellow")
    else:
        text.append(
            f"F1 {_figure(overall.f1)} · precision {_figure(overall.precision)} · recall {_figure(overall.recall)}"
            f" · support {overall.support if overall.support is not None else '-'}"
        )
    langs = sorted(
        (scope.removeprefix("lang_"), g) for scope, g in evaluation.groups.items() if scope.startswith("lang_")
    )
    if langs:
        parts = [f"{code} {'suppressed' if g.suppressed else _figure(g.f1)}" for code, g in langs]
        text.append(" · " + ", ".join(parts))
    epsilon = evaluation.facts.get("epsilon")
    if epsilon is not None:
        text.append(f" · epsilon {epsilon:.3g}")
    return text
