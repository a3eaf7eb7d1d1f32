"""`fednode jobs`, `approve` and `reject` read well at 80 columns: the ids a person types are never cut."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.cli.main import app
from tests.tui.sitekit import Site, manifest, open_site

LONG_IDS = ("job-clean-0001-aaaa-bbbb-cccc", "job-clean-0002-aaaa-bbbb-cccc")


@pytest.fixture
def long_site(fednode_home: Path) -> Iterator[Site]:
    """One approver, no TOTP, two pending jobs whose ids differ only in the middle."""
    s = open_site(fednode_home, required_approvals=1, totp_required=False)
    for job_id in LONG_IDS:
        s.register(manifest(job_id, study="readmission-risk-cohort-2026"))
    yield s
    s.desk.close()


@pytest.fixture
def single_site(fednode_home: Path) -> Iterator[Site]:
    """One approver, no TOTP, no jobs yet."""
    s = open_site(fednode_home, required_approvals=1, totp_required=False)
    yield s
    s.desk.close()


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "80"})
    return result.exit_code, result.stdout, result.stderr


def test_jobs_at_80_columns_shows_every_id_whole(long_site: Site) -> None:
    code, out, _ = _run("jobs")
    assert code == 0, out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, out
    for job_id in LONG_IDS:
        assert any(job_id in line for line in lines), out


def test_jobs_at_80_columns_keeps_the_other_facts_readable(long_site: Site) -> None:
    _, out, _ = _run("jobs")
    assert "pending" in out and "allow" in out and "0/1" in out
    assert "readmission" in out  # the study wraps, it is not cut to nothing
    assert long_site.desk.job(LONG_IDS[0]).manifest.digest[:8] not in out  # no room: dropped, not squeezed


def test_jobs_with_short_ids_wraps_submitter_and_time_and_marks_the_cut_digest(single_site: Site) -> None:
    single_site.register(manifest("job-1"))
    _, out, _ = _run("jobs")
    assert max(len(line) for line in out.splitlines()) <= 80, out
    words = out.split()
    assert "lead@karolinsk" in out and "Institutet" in words  # the submitter wraps, whole
    assert "2026-11-27" in words and "12:00Z" in words  # the time wraps at its space
    digest = single_site.desk.job("job-1").manifest.digest
    wide = CliRunner().invoke(app, ["jobs"], env={"COLUMNS": "120"}).stdout
    assert f"{digest[:8]}…" in wide and digest not in wide  # cut, with a marker that it is


def test_jobs_json_keeps_the_full_digest(long_site: Site) -> None:
    _, out, _ = _run("--json", "jobs")
    jobs = json.loads(out)["jobs"]
    assert {j["job_id"] for j in jobs} == set(LONG_IDS)
    assert all(len(j["digest"]) == 64 for j in jobs)


def test_approve_prints_the_whole_id_and_a_marked_digest(long_site: Site) -> None:
    code, out, _ = _run("approve", LONG_IDS[1], "--reason", "reviewed", "--approver", "dr.hansen")
    assert code == 0, out
    assert LONG_IDS[1] in out and "approved" in out and "…" in out
