"""The manifest in the job meta: embedded by the submitter, recomputed (never trusted) by the site."""

from __future__ import annotations

import base64
import json
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import policies.manifest as mf
from fednode.errors import DigestMismatchError, JobFolderError, ManifestError
from policies.contracts import JobKind

SITE = "site-a"
SITES = ("site-a", "site-b", "site-c")
CLIENT_CONFIG = {
    "format_version": 2,
    "executors": [{"tasks": ["train"], "executor": {"path": "node.site.executor.NerExecutor", "args": {}}}],
}
SERVER_CONFIG = {
    "format_version": 2,
    "workflows": [{"id": "sag", "path": "nvflare.app_common.workflows.fedavg.FedAvg", "args": {"num_rounds": 3}}],
}


def make_job(root: Path, *, name: str = "ner-study", extra_files: dict[str, bytes] | None = None) -> Path:
    """An exported NVFlare job folder (one app for every site) with the fednode manifest embedded."""
    job = root / name
    config = job / "app" / "config"
    config.mkdir(parents=True)
    (config / "config_fed_client.json").write_text(json.dumps(CLIENT_CONFIG, indent=2), encoding="utf-8")
    (config / "config_fed_server.json").write_text(json.dumps(SERVER_CONFIG, indent=2), encoding="utf-8")
    for rel, data in (extra_files or {}).items():
        path = job / "app" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    meta = {
        "name": name,
        "resource_spec": {},
        "min_clients": 3,
        "mandatory_clients": list(SITES),
        "deploy_map": {"app": ["server", *SITES]},
        "custom_props": {"fednode": {"study": "ncbi-ner", "rounds": 3, "dataset": "omop"}},
        "submitter_name": "lead@karolinska.example",
        "submitter_org": "Karolinska Institutet",
        "submitter_role": "lead",
    }
    (job / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    mf.embed_manifest(job)
    return job


def server_meta(job: Path, job_id: str, **changes: Any) -> dict[str, Any]:
    """The meta as the server holds it after submission: the folder's meta.json plus what the server adds."""
    meta = json.loads((job / "meta.json").read_text(encoding="utf-8"))
    meta.update({"job_id": job_id, "submit_time": 1_790_000_000.0, "status": "SUBMITTED", "schedule_count": 2})
    meta.update(changes)
    return meta


def _payload(meta: dict[str, object], app: str = "app") -> dict[str, object]:
    return mf.decode_app(meta[mf.META_KEY]["apps"][app])  # type: ignore[index]


def _reencode(meta: dict[str, object], payload: dict[str, object], app: str = "app") -> None:
    raw = json.dumps(payload).encode("utf-8")
    meta[mf.META_KEY]["apps"][app] = base64.b64encode(zlib.compress(raw)).decode("ascii")  # type: ignore[index]


def test_site_recomputes_the_digest_the_folder_and_the_policy_package_agree_on(tmp_path: Path) -> None:
    job = make_job(tmp_path, extra_files={"custom/helper.txt": b"notes for reviewers\n"})
    manifest = mf.manifest_for_site(server_meta(job, "job-1"), SITE)

    assert manifest.digest == mf.folder_digest(job / "app")
    policy_view = mf.build_manifests(job, site=SITE, submitted_at=datetime.now(UTC))["app"]
    assert manifest.digest == policy_view.digest
    assert manifest.study == "ncbi-ner" and manifest.rounds == 3 and manifest.algorithm == "fedavg"
    assert manifest.submitter == "lead@karolinska.example / Karolinska Institutet"
    assert manifest.sites == ("site-a", "site-b", "site-c")
    assert manifest.kind is JobKind.BYOC  # custom/ makes it bring-your-own-code, as NVFlare's own check does
    assert {f.path for f in manifest.files} == {
        "config/config_fed_client.json",
        "config/config_fed_server.json",
        "custom/helper.txt",
    }
    assert manifest.pinned_meta["min_clients"] == 3 and "schedule_count" not in manifest.pinned_meta


def test_manifest_is_compressed(tmp_path: Path) -> None:
    code = "".join(f"def f{i}(x):\n    return x * {i}\n\n" for i in range(400)).encode()
    job = make_job(tmp_path, extra_files={"custom/model.py": code})
    encoded = json.loads((job / "meta.json").read_text())[mf.META_KEY]["apps"]["app"]
    assert len(encoded) < len(code) / 3


def test_tampered_file_content_is_detected(tmp_path: Path) -> None:
    meta = server_meta(make_job(tmp_path, extra_files={"custom/model.py": b"x = 1\n"}), "job-1")
    payload = _payload(meta)
    for f in payload["files"]:  # type: ignore[attr-defined]
        if f["path"] == "custom/model.py":
            f["content"] = "import os; os.system('curl evil')\n"
    _reencode(meta, payload)
    with pytest.raises(DigestMismatchError, match="does not hash"):
        mf.manifest_for_site(meta, SITE)


def test_stated_digest_is_never_trusted(tmp_path: Path) -> None:
    meta = server_meta(make_job(tmp_path), "job-1")
    payload = _payload(meta)
    payload["digest"] = "0" * 64
    _reencode(meta, payload)
    with pytest.raises(DigestMismatchError, match="stated app digest"):
        mf.manifest_for_site(meta, SITE)


def test_compiled_file_in_manifest_is_refused(tmp_path: Path) -> None:
    meta = server_meta(make_job(tmp_path), "job-1")
    payload = _payload(meta)
    payload["files"].append(  # type: ignore[attr-defined]
        {"path": "custom/__pycache__/model.cpython-311.pyc", "sha256": "e" * 64, "size": 10, "content": None}
    )
    _reencode(meta, payload)
    with pytest.raises(DigestMismatchError, match="compiled"):
        mf.manifest_for_site(meta, SITE)


@pytest.mark.parametrize("path", ["../escape.py", "/etc/passwd", "custom//x.py", "custom\\x.py"])
def test_unsafe_paths_are_refused(tmp_path: Path, path: str) -> None:
    meta = server_meta(make_job(tmp_path), "job-1")
    payload = _payload(meta)
    payload["files"].append({"path": path, "sha256": "e" * 64, "size": 1, "content": None})  # type: ignore[attr-defined]
    _reencode(meta, payload)
    with pytest.raises(ManifestError):
        mf.manifest_for_site(meta, SITE)


def test_zip_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meta = server_meta(make_job(tmp_path), "job-1")
    monkeypatch.setattr("policies.manifest._codec.MAX_DECODED_BYTES", 1000)
    bomb = base64.b64encode(zlib.compress(b"{" + b" " * 100_000 + b"}")).decode()
    meta[mf.META_KEY]["apps"]["app"] = bomb
    with pytest.raises(ManifestError, match="size limit"):
        mf.manifest_for_site(meta, SITE)


def test_site_without_an_app_and_meta_without_manifest(tmp_path: Path) -> None:
    meta = server_meta(make_job(tmp_path), "job-1")
    with pytest.raises(ManifestError, match="no app"):
        mf.manifest_for_site(meta, "site-z")
    del meta[mf.META_KEY]
    with pytest.raises(ManifestError, match="no fednode manifest"):
        mf.manifest_for_site(meta, SITE)


def test_embed_refuses_compiled_files_and_symlinks(tmp_path: Path) -> None:
    with pytest.raises(JobFolderError, match="compiled") as err:
        make_job(tmp_path / "a", extra_files={"custom/__pycache__/model.cpython-311.pyc": b"\x00\x01"})
    assert err.value.exit_code == 4
    with pytest.raises(JobFolderError, match="compiled"):
        make_job(tmp_path / "b", extra_files={"custom/native.so": b"\x7fELF"})
    job = make_job(tmp_path / "c")
    (job / "app" / "custom").mkdir()
    (job / "app" / "custom" / "link.py").symlink_to("/etc/hostname")
    with pytest.raises(DigestMismatchError, match="symbolic link"):
        mf.folder_digest(job / "app")


def test_folder_digest_ignores_only_the_signature_files(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    before = mf.folder_digest(job / "app")
    (job / "app" / ".__nvfl_sig.json").write_text("{}")
    (job / "app" / "config" / ".__nvfl_submitter.crt").write_text("cert")
    assert mf.folder_digest(job / "app") == before
    (job / "app" / "config" / "extra.json").write_text("{}")
    assert mf.folder_digest(job / "app") != before


def test_pinned_meta_changes_are_visible(tmp_path: Path) -> None:
    job = make_job(tmp_path)
    a = mf.manifest_for_site(server_meta(job, "job-1"), SITE)
    b = mf.manifest_for_site(server_meta(job, "job-1", min_clients=1), SITE)
    c = mf.manifest_for_site(server_meta(job, "job-1", schedule_count=9, status="DISPATCHED"), SITE)
    assert a.digest == b.digest and a.pinned_meta != b.pinned_meta
    assert a.pinned_meta == c.pinned_meta  # what the scheduler adds is not pinned


def test_stated_app_digests_are_recomputed(tmp_path: Path) -> None:
    job = make_job(tmp_path, extra_files={"custom/model.py": b"x = 1\n"})
    meta = server_meta(job, "job-1")
    assert mf.stated_app_digests(meta) == {"app": mf.folder_digest(job / "app")}
    assert mf.stated_app_digests({"name": "no manifest"}) == {}


def test_the_digest_rule_by_hand() -> None:
    """DESIGN.md's rule on two files, written out: sha256 of path NUL file-sha LF, in path order."""
    import hashlib

    a, b = hashlib.sha256(b"A").hexdigest(), hashlib.sha256(b"B").hexdigest()
    expected = hashlib.sha256(f"x/b.py\0{b}\n".encode() + f"y.json\0{a}\n".encode()).hexdigest()
    assert mf.app_digest([("y.json", a), ("x/b.py", b), ("x/.__nvfl_sig.json", a)]) == expected
