"""The Training tab shows this site's own row of the model card once the site evaluated the final model; the
validation report is not counted as a training round."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import Static

from node.kit.crosssite import GroupFigures, flatten
from policies.contracts import RoundReport
from tests.tui.pilotkit import jobs_loaded, settle, until
from tests.tui.sitekit import Site, open_site, populate
from tui import make_app
from tui.card_row import card_row, is_validation, split_reports

SIZE = (120, 40)


def _validation(job_id: str, at: object, *, overall: GroupFigures) -> RoundReport:
    groups = {"all": overall, "lang_en": GroupFigures(0.82, 0.8, 0.84, 140), "lang_sv": GroupFigures(suppressed=True)}
    metrics = flatten(groups, {"records": 500.0, "epsilon": 1.23})
    return RoundReport(job_id, 20, metrics, 0, at)  # type: ignore[arg-type]


def test_the_row_names_the_figures_each_language_and_epsilon(fednode_home: Path) -> None:
    site = open_site(fednode_home)
    try:
        report = _validation("job-1", site.clock(), overall=GroupFigures(0.8, 0.79, 0.81, 150))
    finally:
        site.desk.close()
    text = card_row(report).plain
    assert "F1 0.81 · precision 0.8 · recall 0.79 · support 150" in text
    assert "en 0.84, sv suppressed" in text and "epsilon 1.23" in text
    suppressed = card_row(_validation("job-1", report.at, overall=GroupFigures(suppressed=True))).plain
    assert "suppressed (fewer mentions than the policy's minimum support)" in suppressed
    training = RoundReport("job-1", 1, {"loss": 0.3}, 10, report.at)
    assert not is_validation(training) and is_validation(report)
    assert split_reports([training, report]) == ([training], report)


def test_the_training_tab_shows_the_sites_own_row(fednode_home: Path) -> None:
    site: Site = open_site(fednode_home)
    populate(site)
    site.desk.state.jobs.record_round(_validation("job-1", site.clock(), overall=GroupFigures(0.8, 0.79, 0.81, 150)))
    app = make_app(site.settings, site.desk, clock=site.clock)

    async def run() -> tuple[str, str, bool]:
        async with app.run_test(size=SIZE) as pilot:
            await jobs_loaded(pilot, 4)
            await pilot.press("2")
            card = app.query_one("#training-card", Static)
            await until(pilot, lambda: card.display)
            await settle(pilot)
            summary = str(app.query_one("#training-summary", Static).render())
            return summary, str(card.render()), card.display

    try:
        summary, card, shown = asyncio.run(run())
    finally:
        site.desk.close()
    assert "3 of 20 rounds done" in summary  # the validation report is not a training round
    assert shown and "model card (this site's held-back split): F1 0.81" in card
