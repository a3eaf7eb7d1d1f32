"""Reading NVFlare 2.9 job folders into manifests (``policies.jobfolder`` + ``policies.manifest``); the app digest
exactly as DESIGN.md fixes it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fednode.errors import DigestMismatchError, JobFolderError
from policies.contracts import JobKind
from policies.jobfolder import read_job_folder
from policies.manifest import Declaration, build_manifests, embed_manifest, folder_digest, read_app

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def copy_job(tmp_path: Path, name: str) -> Path:
    return Path(shutil.copytree(FIXTURES / name, tmp_path / name))


def reference_digest(app_dir: Path) -> str:
    """DESIGN.md's rule written out independently: sha256 over path + NUL + sha256(bytes) + LF, in path order."""
    h = hashlib.sha256()
    for p in sorted(q for q in app_dir.rglob("*") if q.is_file()):
        rel = p.relative_to(app_dir).as_posix()
        if p.name in {".__nvfl_sig.json", ".__nvfl_submitter.crt"}:
            continue
        h.update(rel.encode() + b"\0" + hashlib.sha256(p.read_bytes()).hexdigest().encode() + b"\n")
    return h.hexdigest()


def test_clean_job_manifest() -> None:
    [(app, m)] = build_manifests(FIXTURES / "clean_config_job", site="site-oslo", submitted_at=NOW).items()
    assert app == "app" and m.kind is JobKind.CONFIG_ONLY
    assert (m.algorithm, m.rounds, m.min_clients, m.dataset) == ("fedavg", 10, 3, "omop")
    assert m.submitter == "lead@karolinska.example / Karolinska Institutet"
    assert m.dp is not None and m.dp.target_epsilon == 1.5
    assert m.data_access["note"] == ("note_id", "note_text")
    assert m.digest == reference_digest(FIXTURES / "clean_config_job" / "app")
    assert all(f.content is not None for f in m.files)


def test_digest_excludes_only_signature_files_and_sees_every_byte(tmp_path: Path) -> None:
    job = copy_job(tmp_path, "malicious_byoc_job")
    app = job / "app"
    before = folder_digest(app)
    assert before == reference_digest(app)
    (app / ".__nvfl_sig.json").write_text('{"random": 1}')
    (app / "custom" / ".__nvfl_submitter.crt").write_text("cert")
    assert folder_digest(app) == before  # signature files are randomised per submission
    trainer = app / "custom" / "trainer.py"
    trainer.write_bytes(trainer.read_bytes() + b" ")
    assert folder_digest(app) != before == reference_digest(copy_job(tmp_path / "b", "malicious_byoc_job") / "app")


@pytest.mark.parametrize(
    ("rel", "data", "message"),
    [
        ("custom/__pycache__/trainer.cpython-311.pyc", b"\xa7\r\r\n" + bytes(12), "compiled-code folder"),
        ("custom/fast.so", b"\x7fELF", "compiled or native file"),
        ("custom/helper.pyc", b"\xa7\r\r\n", "compiled or native file"),
    ],
)
def test_compiled_files_are_refused_not_hashed(tmp_path: Path, rel: str, data: bytes, message: str) -> None:
    """A reviewed model.py with a hidden .pyc beside it runs the .pyc: no walk accepts one."""
    job = copy_job(tmp_path, "malicious_byoc_job")
    (job / "app" / rel).parent.mkdir(parents=True, exist_ok=True)
    (job / "app" / rel).write_bytes(data)
    with pytest.raises(JobFolderError, match=message) as err:
        build_manifests(job, site="site-oslo", submitted_at=NOW)
    assert err.value.exit_code == 4
    with pytest.raises(DigestMismatchError, match=message):  # the deploy-time check refuses the same bytes
        folder_digest(job / "app")


def test_symlinks_and_special_files_are_refused(tmp_path: Path) -> None:
    job = copy_job(tmp_path, "clean_config_job")
    (job / "app" / "config" / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(JobFolderError, match="symbolic link"):
        read_app(job / "app")
    (job / "app" / "config" / "passwd").unlink()
    (job / "app" / "custom").symlink_to("/usr/lib")
    with pytest.raises(JobFolderError, match="symbolic link"):
        read_app(job / "app")
    (job / "app" / "custom").unlink()
    os.mkfifo(job / "app" / "config" / "pipe")
    with pytest.raises(JobFolderError, match="special file"):
        read_app(job / "app")


def test_an_app_over_the_size_cap_is_refused_before_it_is_read(tmp_path: Path) -> None:
    job = copy_job(tmp_path, "clean_config_job")
    (job / "app" / "custom").mkdir()
    (job / "app" / "custom" / "weights.txt").write_bytes(b"0" * 5000)
    assert len(read_app(job / "app")) == 3
    with pytest.raises(JobFolderError, match="larger than 4096 bytes"):
        read_app(job / "app", max_bytes=4096)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda j: (j / "meta.json").unlink(), "meta.json not found"),
        (lambda j: (j / "meta.json").write_text("{not json"), "not valid JSON"),
        (lambda j: (j / "meta.json").write_text('{"name": "x"}'), "deploy_map"),
        (lambda j: shutil.rmtree(j / "app"), "folder is missing"),
    ],
)
def test_broken_job_folders_are_bad_input(tmp_path: Path, mutate, message: str) -> None:
    job = copy_job(tmp_path, "clean_config_job")
    mutate(job)
    with pytest.raises(JobFolderError, match=message) as err:
        read_job_folder(job)
    assert err.value.exit_code == 4


def test_deploy_map_picks_the_sites_app(tmp_path: Path) -> None:
    job = copy_job(tmp_path, "clean_config_job")
    shutil.copytree(job / "app", job / "app_lund")
    meta = json.loads((job / "meta.json").read_text())
    meta["deploy_map"] = {"app": ["site-oslo", "server"], "app_lund": ["site-lund"]}
    (job / "meta.json").write_text(json.dumps(meta))
    assert list(build_manifests(job, site="site-lund", submitted_at=NOW)) == ["app_lund"]
    with pytest.raises(JobFolderError, match="no app to site"):
        build_manifests(job, site="site-tartu", submitted_at=NOW)


def test_embedded_manifest_declaration_and_stale_manifest(tmp_path: Path) -> None:
    job = copy_job(tmp_path, "clean_config_job")
    decl = Declaration(study="embedded-study", algorithm="scaffold", rounds=7, dataset="omop")
    digests = embed_manifest(job, decl)
    [m] = build_manifests(job, site="site-oslo", submitted_at=NOW).values()
    assert (m.study, m.algorithm, m.rounds, m.digest) == ("embedded-study", "scaffold", 7, digests["app"])
    assert digests["app"] == folder_digest(job / "app")
    (job / "app" / "config" / "config_fed_client.json").write_text("{}")  # changed after embedding
    with pytest.raises(JobFolderError, match="does not match its files") as err:  # the deploy check would refuse
        build_manifests(job, site="site-oslo", submitted_at=NOW)
    assert err.value.exit_code == 4


def test_policy_check_sees_what_the_site_sees(tmp_path: Path) -> None:
    """Before embedding, the folder's manifest equals the one a site decodes after embedding (pinned meta too)."""
    from policies.manifest import manifest_for_site

    job = copy_job(tmp_path, "malicious_byoc_job")
    [before] = build_manifests(job, site="site-oslo", submitted_at=NOW).values()
    embed_manifest(job)
    meta = {**json.loads((job / "meta.json").read_text()), "job_id": before.job_id}
    at_site = manifest_for_site(meta, "site-oslo")
    assert at_site.files == before.files and at_site.digest == before.digest
    assert at_site.pinned_meta == before.pinned_meta and "server_workflows" not in at_site.pinned_meta
    assert (at_site.study, at_site.algorithm, at_site.rounds, at_site.kind) == (
        before.study, before.algorithm, before.rounds, before.kind,
    )  # fmt: skip


def test_fixture_matches_a_fresh_nvflare_export(tmp_path: Path) -> None:
    """The clean fixture is what NVFlare 2.9's FedJob API writes (regenerate with make_jobs.py)."""
    import sys

    sys.path.insert(0, str(FIXTURES))
    try:
        from make_jobs import export_clean_job
    finally:
        sys.path.remove(str(FIXTURES))
    fresh = export_clean_job(tmp_path / "export")
    for rel in ("meta.json", "app/config/config_fed_client.json", "app/config/config_fed_server.json"):
        assert json.loads((fresh / rel).read_text()) == json.loads((FIXTURES / "clean_config_job" / rel).read_text())
