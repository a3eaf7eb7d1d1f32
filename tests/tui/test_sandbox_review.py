"""The review of a BYOC job: the Sandbox tab, warnings apart from denials, and approval with warnings only."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import yaml
from rich.console import Console, RenderableType
from sqlalchemy import insert
from textual.widgets import Static

from fednode.settings import Settings
from node.site.desk import SiteDesk
from omop_etl.cdm import create_cdm
from omop_etl.cdm.clinical import Person
from omop_etl.db import make_engine
from omop_etl.notes import DeidentifiedNote, load_notes
from policies.contracts import Finding, JobKind, JobManifest, JobState
from tests.tui.pilotkit import jobs_loaded, type_text, until
from tests.tui.sitekit import EVIL, FixedClock, Site, manifest, write_policy
from tui import make_app
from tui.screens.decision_dialog import DecisionDialog
from tui.screens.review import JobReviewScreen
from tui.widgets.code_view import render_file
from tui.widgets.sandbox_view import SandboxView
from tui.widgets.verdict_view import render_verdict

SIZE = (100, 30)
APP = Path(__file__).resolve().parents[2] / "examples" / "byoc-ner" / "app"
NER_ACCESS = {
    "note": ("note_id", "note_text"),
    "note_nlp": ("note_id", "offset", "lexical_variant", "term_modifiers", "nlp_system"),
}
PEEK = "\n\ndef peek(argv):\n    with open(argv[1]) as f:\n        return f.read()\n"
"""Appended to the example's training script: ``open`` of an argument, which the scan leaves to the sandbox."""


@pytest.fixture
def byoc_site(fednode_home: Path) -> Iterator[Site]:
    """One approver, no TOTP, BYOC allowed with the site's own DP noise, tight sandbox limits, 3 annotated notes."""
    path = write_policy(fednode_home, required_approvals=1, totp_required=False)
    policy = yaml.safe_load(path.read_text(encoding="utf-8"))
    policy["jobs"]["kinds"] = ["config_only", "byoc"]
    policy["jobs"]["min_local_records"] = 2
    policy["data_access"] = {table: list(columns) for table, columns in NER_ACCESS.items()}
    policy["privacy"]["dp"].update(site_noise_multiplier=50.0, site_clip_norm=0.5)
    policy["sandbox"] = {"memory_mib": 6144, "max_processes": 48, "wall_minutes": 120}
    path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    settings = Settings(home=fednode_home)
    _cdm_with_annotated_notes(settings.omop_db_url, 3)
    clock = FixedClock()
    site = Site(fednode_home, settings, SiteDesk.from_settings(settings, clock=clock), clock)
    yield site
    site.desk.close()


def _cdm_with_annotated_notes(url: str, count: int) -> None:
    engine = make_engine(url)
    create_cdm(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Person).values(
                person_id=1,
                gender_concept_id=0,
                year_of_birth=1970,
                race_concept_id=0,
                ethnicity_concept_id=0,
                person_source_value="p1",
            )
        )
    text = "Familial adenomatous polyposis is inherited."
    notes = [
        DeidentifiedNote(f"n{i}", "p1", date(2024, 1, 2), "abstract", text, "en", ((0, 30, "Disease"),))
        for i in range(count)
    ]
    assert load_notes(engine, notes).loaded == count
    engine.dispose()


def byoc_manifest(job_id: str, *, extra: dict[str, str] | None = None) -> JobManifest:
    """The example BYOC NER job (``examples/byoc-ner``), its training script reading a path it is given."""
    files = {
        str(p.relative_to(APP)): p.read_text(encoding="utf-8")
        for p in sorted(APP.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
    files["custom/client.py"] += PEEK
    files.update(extra or {})
    m = manifest(job_id, study="ner-byoc", kind=JobKind.BYOC, files=files, rounds=5)
    return dataclasses.replace(m, data_access=NER_ACCESS)


def _plain(renderable: RenderableType, width: int = 160) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None).print(renderable)
    return buffer.getvalue()


def _peek_line(m: JobManifest) -> int:
    text = next(f.content for f in m.files if f.path == "custom/client.py")
    assert text is not None
    return text.splitlines().index("    with open(argv[1]) as f:") + 1


def test_a_byoc_job_shows_what_its_code_may_do_in_the_sandbox_tab(byoc_site: Site) -> None:
    asyncio.run(_sandbox_tab(byoc_site))


async def _sandbox_tab(site: Site) -> None:
    site.register(byoc_manifest("job-b"))
    app = make_app(site.settings, site.desk, clock=site.clock)
    async with app.run_test(size=SIZE) as pilot:
        await jobs_loaded(pilot, 1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, JobReviewScreen))
        await pilot.press("s")
        view = app.screen.query_one(SandboxView)
        await until(pilot, lambda: view.review is not None, timeout=60.0)
        assert app.screen.query_one("#review-tabs").active == "sandbox"  # type: ignore[attr-defined]
        shown = _plain(app.screen.query_one("#sandbox-body", Static).content)  # type: ignore[arg-type]
        await app.workers.wait_for_complete()

    assert "python -u job_code/client.py --data_dir data --model_dir model" in shown
    assert "data/ " in shown and "model/ " in shown and "read-only" in shown and "read-write" in shown
    assert "state.db" in shown and "keys/" in shown
    assert "network   none, except TCP to the one loopback port" in shown
    assert "memory 6144 MiB per process, 48 processes/threads, run time 120 min" in shown
    assert "data/train.tsv, data/dev.tsv" in shown
    assert "from note: note_id, note_text" in shown
    assert "from note_nlp: note_id, offset, lexical_variant, term_modifiers, nlp_system" in shown
    assert "3 annotated notes (the policy needs at least 2)" in shown
    assert "site adds DP noise at egress" in shown
    assert "clips every update to 0.5 and adds Gaussian noise x50" in shown
    assert "declares epsilon 2 (not trusted)" in shown
    assert "0 denied" in shown and "warnings (shown at their lines" in shown


def test_a_warning_is_shown_at_its_line_and_does_not_block_approval(byoc_site: Site) -> None:
    asyncio.run(_warning_does_not_block(byoc_site))


async def _warning_does_not_block(site: Site) -> None:
    m = byoc_manifest("job-b")
    record = site.register(m)
    line = _peek_line(m)
    warning = [f for f in record.verdict.findings if f.file == "custom/client.py" and f.line == line]
    assert [f.severity for f in warning] == ["warn"]
    assert record.verdict.allowed

    app = make_app(site.settings, site.desk, clock=site.clock)
    async with app.run_test(size=SIZE) as pilot:
        await jobs_loaded(pilot, 1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, JobReviewScreen) and app.screen.rules is not None)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, DecisionDialog))
        await type_text(pilot, "dr.hansen")
        await pilot.press("enter")
        await type_text(pilot, "read the code; the open() of an argument stays in the sandbox")
        await pilot.press("enter")
        await until(pilot, lambda: site.desk.job("job-b").state is JobState.APPROVED)
        await app.workers.wait_for_complete()

    code = _plain(render_file(next(f for f in m.files if f.path == "custom/client.py"), record.verdict.findings))
    assert f"? line {line} [filesystem] open() on a path computed at run time" in code
    assert "! line" not in code
    verdict = _plain(render_verdict(record.verdict))
    assert "? warn" in verdict and "! deny" not in verdict
    assert "do not block approval" in verdict
    approved = site.desk.job("job-b")
    assert approved.approvals[0].digest == approved.manifest.digest


def test_a_denial_is_shown_as_a_denial_and_blocks_approval(byoc_site: Site) -> None:
    asyncio.run(_denial_blocks(byoc_site))


async def _denial_blocks(site: Site) -> None:
    m = byoc_manifest("job-x", extra={"custom/evil.py": EVIL})
    record = site.register(m)
    evil = next(f for f in m.files if f.path == "custom/evil.py")
    denials = [f for f in record.verdict.findings if f.file == evil.path]
    assert denials and all(f.severity == "deny" for f in denials)
    assert not record.verdict.allowed

    code = _plain(render_file(evil, record.verdict.findings))
    assert all(f"! line {f.line} [{f.capability}]" in code for f in denials)
    assert "? line" not in code
    verdict = _plain(render_verdict(record.verdict))
    assert "! deny" in verdict and "custom/evil.py" in verdict

    app = make_app(site.settings, site.desk, clock=site.clock)
    async with app.run_test(size=SIZE) as pilot:
        await jobs_loaded(pilot, 1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, JobReviewScreen) and app.screen.rules is not None)
        await pilot.press("a")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, DecisionDialog)
        await app.workers.wait_for_complete()
    assert site.desk.job("job-x").state is JobState.PENDING


def test_a_denial_and_a_warning_on_one_line_are_both_listed() -> None:
    m = manifest("job-1", kind=JobKind.BYOC, files={"custom/a.py": "x = 1\ny = 2\n"})
    both = (
        Finding("custom/a.py", 1, "filesystem", "computed path", severity="warn"),
        Finding("custom/a.py", 1, "network", "socket", severity="deny"),
        Finding("custom/a.py", 2, "filesystem", "computed path", severity="warn"),
    )
    code = _plain(render_file(m.files[0], both))
    assert "? line 1 [filesystem]" in code and "! line 1 [network]" in code and "? line 2" in code
