"""Pure rendering helpers: diffs, reports, error text (no app needed)."""

from __future__ import annotations

import io

from rich.console import Console, RenderableType

from fednode.errors import ApprovalRefusedError
from policies.contracts import JobManifest, JobRecord, JobState, Verdict
from tests.tui.sitekit import DEID_REPORT, DQ_REPORT, ETL_REPORT, TRAINER, TRAINER_V2, manifest
from tui.format import short_digest, size
from tui.widgets.data_pane import render_deid, render_dq, render_etl
from tui.widgets.diff_view import render_diff
from tui.workers import describe


def _text(renderable: RenderableType) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=100, color_system=None).print(renderable)
    return buffer.getvalue()


def _record(m: JobManifest) -> JobRecord:
    return JobRecord(m.job_id, JobState.APPROVED, m, Verdict(True, ()), (), 1, m.submitted_at, m.submitted_at)


def test_diff_without_an_approved_version_says_every_file_is_new() -> None:
    assert "every file is new" in _text(render_diff(manifest("job-2"), None))


def test_diff_of_identical_code_says_so() -> None:
    out = _text(render_diff(manifest("job-2"), _record(manifest("job-1"))))
    assert "0 changed, 0 added, 0 removed" in out and "identical" in out


def test_diff_shows_changed_added_and_removed_files() -> None:
    old = manifest("job-1", files={"custom/trainer_config.py": TRAINER, "custom/old.py": "x = 1\n"})
    new = manifest("job-2", files={"custom/trainer_config.py": TRAINER_V2, "custom/new.py": "y = 2\n"})
    out = _text(render_diff(new, _record(old)))
    assert "1 changed, 1 added, 1 removed" in out
    assert '+    for epoch in range(config["epochs"] + 1):' in out
    assert "-x = 1" in out and "+y = 2" in out


def test_dq_lists_failed_and_accepted_checks_with_their_place_and_reason() -> None:
    out = _text(render_dq(DQ_REPORT))
    assert "FAILED" in out and "41 passed · 1 failed · 1 accepted" in out
    assert "plausibleValueLow person.year_of_birth" in out and "3/1,200" in out
    assert "plausibleValueHigh measurement.value_as_number@3004410" in out
    assert "lab reports HbA1c in mmol/mol" in out
    assert "check0" not in out  # passed checks are counted, not listed


def test_deid_counts_read_as_kinds_of_phi_not_raw_keys() -> None:
    out = _text(render_deid(DEID_REPORT, "fednode deid run"))
    assert "names" in out and "3,012" in out and "national ID numbers" in out and "dates" in out
    assert "notes quarantined" in out and "note too large" in out
    assert "NATIONAL_ID" not in out and "phi" not in out and "{" not in out


def test_the_last_etl_run_is_summarised_not_dumped() -> None:
    out = _text(render_etl(ETL_REPORT, {"person": 1200, "note": 0}))
    assert "source synthea-sample" in out and "2026-11-27 11:40Z" in out
    assert "3 source rows quarantined" in out and "5 records with unmapped codes" in out
    assert "1,200 / 0 / 0" in out
    assert "changes." not in out and "unmapped." not in out and "SNOMED" not in out


def test_a_report_from_another_version_does_not_break_the_view() -> None:
    odd = {"notes": 5400, "phi_found": {"PERSON": 1}, "quarantined": 2, "checks": 3, "summary": [1]}
    assert "Data-quality gate" in _text(render_dq(odd))
    assert "De-identification" in _text(render_deid(odd))
    assert "Last ETL run" in _text(render_etl(odd, {}))


def test_missing_report_says_how_to_make_it() -> None:
    assert "run `fednode dq`" in _text(render_dq(None))
    assert "fednode etl --notes" in _text(render_deid(None))
    assert "run `fednode etl`" in _text(render_etl(None, {}))


def test_errors_from_outside_the_tree_show_only_their_type() -> None:
    title, message = describe(ValueError("patient Kari Nordmann 01019012345 not found"))
    assert "Kari" not in message and "0101" not in message and "ValueError" in message
    assert describe(ApprovalRefusedError("job j: a reason is required")) == (
        "ApprovalRefusedError",
        "job j: a reason is required",
    )
    assert title == "Unexpected error"


def test_sizes_read_as_people_expect() -> None:
    assert [size(n) for n in (812, 3_482, 1_300_000)] == ["812 B", "3.4 KiB", "1.2 MiB"]


def test_a_cut_digest_says_it_is_cut() -> None:
    digest = "c283f08e7ed0f204666019260a677fa9a22bc026649504a8a20a6a11b05ec972"
    assert short_digest(digest) == "c283f08e7ed0…"
    assert short_digest("abc") == "abc"
