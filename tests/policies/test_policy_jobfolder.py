"""Reading NVFlare 2.9 job folders into manifests; the app digest exactly as DESIGN.md fixes it."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fednode.errors import PolicyFileError
from policies.contracts import JobKind
from policies.jobfolder import build_manifests, compute_app_digest, read_app_files, read_job_folder

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
    before = compute_app_digest(app)
    (app / ".__nvfl_sig.json").write_text('{"random": 1}')
    (app / "custom" / ".__nvfl_submitter.crt").write_text("cert")
    assert compute_app_digest(app) == before  # signature files are randomised per submission
    (app / "custom" / "__pycache__").mkdir()
    (app / "custom" / "__pycache__" / "trainer.cpython-311.pyc").write_bytes(b"\xa7\r\r\n" + bytes(12))
    with_pyc = compute_app_digest(app)
    assert with_pyc != before and with_pyc == reference_digest(app)  # compiled files are hashed, not skipped
    trainer = app / "custom" / "trainer.py"
    trainer.write_bytes(trainer.read_bytes() + b" ")
    assert compute_app_digest(app) != with_pyc


def test_digest_matches_the_node_gate(tmp_path: Path) -> None:
    manifest = pytest.importorskip("node.flare.manifest")
    app = copy_job(tmp_path, "malicious_byoc_job") / "app"
    assert compute_app_digest(app) == manifest.folder_digest(app)


def test_malicious_job_is_byoc_and_carries_compiled_files(tmp_path: Path) -> None:
    job = copy_job(tmp_path, "malicious_byoc_job")
    cache = job / "app" / "custom" / "__pycache__"
    cache.mkdir()
    (cache / "helper.cpython-311.pyc").write_bytes(b"\xa7\r\r\n" + bytes(12) + b"\xe3")
    [m] = build_manifests(job, site="site-oslo", submitted_at=NOW).values()
    assert m.kind is JobKind.BYOC
    pyc = next(f for f in m.files if f.path.endswith(".pyc"))
    assert pyc.content is None and pyc.size == 17


def test_symlinks_are_refused(tmp_path: Path) -> None:
    job = copy_job(tmp_path, "clean_config_job")
    (job / "app" / "config" / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(PolicyFileError, match="symbolic link"):
        read_app_files(job / "app")


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
    with pytest.raises(PolicyFileError, match=message) as err:
        read_job_folder(job)
    assert err.value.exit_code == 4


def test_deploy_map_picks_the_sites_app(tmp_path: Path) -> None:
    job = copy_job(tmp_path, "clean_config_job")
    shutil.copytree(job / "app", job / "app_lund")
    meta = json.loads((job / "meta.json").read_text())
    meta["deploy_map"] = {"app": ["site-oslo", "server"], "app_lund": ["site-lund"]}
    (job / "meta.json").write_text(json.dumps(meta))
    assert list(build_manifests(job, site="site-lund", submitted_at=NOW)) == ["app_lund"]
    with pytest.raises(PolicyFileError, match="no app to site"):
        build_manifests(job, site="site-tartu", submitted_at=NOW)


def test_embedded_manifest_declaration_and_stale_digest(tmp_path: Path) -> None:
    manifest = pytest.importorskip("node.flare.manifest")
    job = copy_job(tmp_path, "clean_config_job")
    decl = manifest.Declaration(study="embedded-study", algorithm="scaffold", rounds=7, dataset="omop")
    digests = manifest.embed_manifest(job, decl)
    [m] = build_manifests(job, site="site-oslo", submitted_at=NOW).values()
    assert (m.study, m.algorithm, m.digest) == ("embedded-study", "scaffold", digests["app"])
    (job / "app" / "config" / "config_fed_client.json").write_text("{}")  # changed after embedding
    [m2] = build_manifests(job, site="site-oslo", submitted_at=NOW).values()
    assert m2.digest == digests["app"] != compute_app_digest(job / "app")  # the app_digest rule then denies


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
