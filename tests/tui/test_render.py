"""Pure rendering helpers: diffs, reports, error text (no app needed)."""

from __future__ import annotations

import io

from rich.console import Console, RenderableType

from fednode.errors import ApprovalRefusedError
from policies.contracts import JobManifest, JobRecord, JobState, Verdict
from tests.tui.sitekit import TRAINER, TRAINER_V2, manifest
from tui.format import size
from tui.widgets.data_pane import MAX_LISTED, render_report
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


def test_report_lists_short_record_lists_and_counts_long_ones() -> None:
    report = {
        "ok": False,
        "failed": [{"check": "plausibleValueLow", "violated": 3}],
        "checks": [{"check": f"c{i}"} for i in range(MAX_LISTED + 1)],
        "phi_found": {"PERSON": 12},
    }
    out = _text(render_report("DQ", report, "missing"))
    assert "FAIL" in out and "plausibleValueLow" in out
    assert f"{MAX_LISTED + 1} items" in out and "c0" not in out
    assert "phi_found.PERSON" in out and "12" in out


def test_missing_report_says_how_to_make_it() -> None:
    assert "run `fednode dq`" in _text(render_report("DQ", None, "no report yet (run `fednode dq`)."))


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
