"""The BYOC corpus: every benign job is allowed (warnings at most), every harmful variant denied or warn-only.

The benign jobs (tests/policies/byoc/benign/) are NVFlare 2.9 Client API jobs written by hand the way NVFlare's
examples are; the harmful variants (tests/policies/byoc/harmful.py) are patches of one of them, written by
hand, class by class. A variant marked warn-only must still show the reviewer a warning at its own line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies.codescan import DENY, WARN, scan_files, scan_manifest
from policies.contracts import Finding, JobKind, JobManifest, ManifestFile
from policies.manifest import build_manifests, files_digest
from policies.policy_model import SitePolicy, parse_policy
from policies.verdicts import SiteState, blocking_rules, evaluate
from tests.policies.byoc.harmful import (
    BASE_JOB,
    SCRIPT,
    VARIANTS,
    WARN_ONLY,
    WARN_ONLY_VARIANTS,
    Variant,
    app_files,
    base_files,
    manifest_texts,
    materialize,
)

BENIGN = Path(__file__).resolve().parent / "byoc" / "benign"
BENIGN_JOBS = sorted(p.name for p in BENIGN.iterdir() if (p / "meta.json").is_file())
EXAMPLE = Path(__file__).resolve().parents[2] / "policies" / "examples" / "site-policy.yaml"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SUBMITTER = "lead@karolinska.example / Karolinska Institutet"


def byoc_policy() -> SitePolicy:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    data["jobs"]["kinds"] = ["config_only", "byoc"]
    data["privacy"]["dp"]["required"] = False
    return parse_policy(data)


def site_state() -> SiteState:
    policy = byoc_policy()
    return SiteState(policy, NOW, budget_remaining=dict(policy.privacy.budgets), local_records=10_000)


def in_process_scan(job: JobManifest, components: frozenset[str]) -> tuple[Finding, ...]:
    return scan_manifest(job, components=components)


def manifest_of(files: Mapping[str, str | bytes]) -> JobManifest:
    entries = []
    for path, content in sorted(files.items()):
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        entries.append(
            ManifestFile(
                path, hashlib.sha256(data).hexdigest(), len(data), content if isinstance(content, str) else None
            )
        )
    mfiles = tuple(entries)
    return JobManifest(
        job_id="corpus",
        study="corpus",
        app_name="app",
        digest=files_digest(mfiles),
        files=mfiles,
        kind=JobKind.BYOC,
        submitter=SUBMITTER,
        submitted_at=NOW,
        algorithm="fedavg",
        rounds=5,
        min_clients=3,
        data_access={"note": ("note_id", "note_text")},
    )


# -- the corpus itself ------------------------------------------------------------------------------------


def test_the_corpus_is_as_large_as_promised() -> None:
    assert len(BENIGN_JOBS) >= 12
    assert len(VARIANTS) >= 60
    assert len({v.name for v in VARIANTS}) == len(VARIANTS)
    classes = {v.klass for v in VARIANTS}
    assert {"network", "files", "commands", "escapes", "text", "layout", "config"} <= classes
    assert all(v.sandbox for v in WARN_ONLY_VARIANTS)


# -- benign jobs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BENIGN_JOBS)
def test_benign_job_is_allowed(name: str) -> None:
    manifests = build_manifests(BENIGN / name, site="site-oslo", submitted_at=NOW, submitter=SUBMITTER)
    for manifest in manifests.values():
        assert manifest.kind is JobKind.BYOC
        verdict = evaluate(manifest, site_state(), scan=in_process_scan)
        assert verdict.allowed, [r for r in verdict.results if r.rule in blocking_rules(verdict)]
        assert all(f.severity == WARN for f in verdict.findings), verdict.findings
        assert verdict.warnings == verdict.findings
        paths = {f.path for f in manifest.files}
        assert all(w.file in paths and w.line > 0 for w in verdict.warnings)


def test_benign_job_through_the_bounded_worker() -> None:
    [manifest] = build_manifests(
        BENIGN / "ner_package", site="site-oslo", submitted_at=NOW, submitter=SUBMITTER
    ).values()
    verdict = evaluate(manifest, site_state())
    assert verdict.allowed
    assert verdict.findings == scan_manifest(manifest)


# -- harmful variants -------------------------------------------------------------------------------------


def _appended_lines(variant: Variant) -> range:
    base = str(base_files()[SCRIPT])
    start = (base + "\n\n").count("\n") + 1
    return range(start, start + variant.append.count("\n") + 1)


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_harmful_variant(variant: Variant) -> None:
    findings = scan_files(manifest_texts(variant), byoc=True)
    verdict = evaluate(manifest_of(app_files(variant)), site_state(), scan=in_process_scan)
    if variant.outcome == WARN_ONLY:
        assert not [f for f in findings if f.severity == DENY], findings
        assert "code_scan" not in blocking_rules(verdict)
        lines = _appended_lines(variant)
        assert [f for f in verdict.warnings if f.file == SCRIPT and f.line in lines], verdict.warnings
    else:
        assert [f for f in findings if f.severity == DENY], f"{variant.name} passed the scan"
        assert "code_scan" in blocking_rules(verdict)
        assert not verdict.allowed


def test_base_of_the_variants_is_allowed() -> None:
    verdict = evaluate(manifest_of(base_files()), site_state(), scan=in_process_scan)
    assert verdict.allowed and not [f for f in verdict.findings if f.severity == DENY]


@pytest.mark.parametrize("name", ["cfg_task_script", "helper_reexport", "coding_utf7", "computed_hub_id"])
def test_materialized_variants_read_as_job_folders(tmp_path: Path, name: str) -> None:
    variant = next(v for v in VARIANTS if v.name == name)
    job = materialize(variant, tmp_path)
    assert (job / "meta.json").is_file() and BASE_JOB.name != job.name
    [manifest] = build_manifests(job, site="site-oslo", submitted_at=NOW, submitter=SUBMITTER).values()
    verdict = evaluate(manifest, site_state(), scan=in_process_scan)
    assert verdict.allowed is (variant.outcome == WARN_ONLY)
