"""Building a :class:`~policies.contracts.JobManifest`: one way, whether from a job folder or from the job meta.

The submitting side (:func:`embed_manifest`) walks each client app once and writes its manifest into the meta.
A site (:func:`manifest_for_site`) decodes the manifest of the app deployed to it, recomputes every file's sha256
from the carried content and the app digest from those, and never trusts a stated digest. ``fednode policy
check`` (:func:`build_manifests`) judges what a site would see: the embedded manifest when the folder carries one
(refused when the folder's files no longer match it), else the manifest embedding would write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fednode.errors import DigestMismatchError, JobFolderError, ManifestError
from policies.contracts import JobManifest, ManifestFile
from policies.jobcodec import dp_to_json
from policies.jobfolder import JobFolder, read_job_folder
from policies.manifest._codec import (
    MANIFEST_VERSION,
    META_KEY,
    decode_app,
    embedded_block,
    encode_app,
    encoded_apps,
)
from policies.manifest._declaration import (
    DECLARED_KEYS,
    Declaration,
    app_for_site,
    apps_for_site,
    as_int,
    client_sites,
    declared_in_meta,
    dp_params,
    infer_from_server_config,
    job_kind,
    pinned_meta,
)
from policies.manifest._digest import check_rel_path, files_digest, is_compiled_path, is_signature_file, sha256_hex
from policies.manifest._walk import read_app
from policies.policy_model import format_identity

SERVER_CONFIG = "config/config_fed_server.json"


# --- the payload an app's manifest carries ----------------------------------------------------------------------


def app_payload(app_name: str, files: tuple[ManifestFile, ...], declared: Mapping[str, Any]) -> dict[str, Any]:
    """One app's manifest as it travels: version, files with content, digest and the declared fields set."""
    return {
        "v": MANIFEST_VERSION,
        "app_name": app_name,
        "digest": files_digest(files),
        "files": [{"path": f.path, "sha256": f.sha256, "size": f.size, "content": f.content} for f in files],
        **{k: declared[k] for k in DECLARED_KEYS if declared.get(k) is not None},
    }


def _server_config(files: tuple[ManifestFile, ...], app_folder: Path) -> dict[str, Any] | None:
    entry = next((f for f in files if f.path == SERVER_CONFIG), None)
    if entry is None or entry.content is None:
        return None
    try:
        data = json.loads(entry.content)
    except json.JSONDecodeError:
        raise JobFolderError("not valid JSON", file=str(app_folder / SERVER_CONFIG)) from None
    return data if isinstance(data, dict) else None


def _folder_declaration(
    folder: JobFolder, files: tuple[ManifestFile, ...], app_name: str, override: Mapping[str, Any]
) -> dict[str, Any]:
    """The declared fields embedding writes: the meta's declaration (and one already embedded), the server
    config's algorithm and rounds where nothing is declared, then ``override``."""
    decl = declared_in_meta(folder.meta)
    apps = encoded_apps(folder.meta)
    if apps is not None and apps.get(app_name) is not None:
        embedded = decode_app(apps[app_name])
        decl.update({k: v for k, v in embedded.items() if k in DECLARED_KEYS})
    algorithm, rounds = infer_from_server_config(_server_config(files, folder.apps[app_name]))
    dp = dp_params(decl.get("dp"))
    data_access = decl.get("data_access") or {}
    if not isinstance(data_access, Mapping):
        raise ManifestError("declared data_access is not an object", field="data_access")
    return {
        "study": str(decl.get("study") or folder.meta.get("name") or folder.root.name),
        "algorithm": str(decl.get("algorithm") or algorithm or "unknown"),
        "rounds": max(as_int(decl.get("rounds"), 0), rounds or 0, 1),
        "dataset": str(decl.get("dataset") or "omop"),
        "data_access": {str(t): [str(c) for c in cols] for t, cols in data_access.items()},
        "dp": None if dp is None else dp_to_json(dp),
        **({"secure_aggregation": decl["secure_aggregation"] is True} if "secure_aggregation" in decl else {}),
        **override,
    }


# --- from a payload to the manifest the site reviews ------------------------------------------------------------


def _verified_files(raw_files: object) -> tuple[ManifestFile, ...]:
    if not isinstance(raw_files, list):
        raise ManifestError("manifest files is not a list", field="files")
    files: list[ManifestFile] = []
    seen: set[str] = set()
    for item in raw_files:
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise ManifestError("manifest file entry is malformed", field="files")
        rel = item["path"]
        check_rel_path(rel)
        if rel in seen:
            raise ManifestError("manifest lists a path twice", field="files.path")
        seen.add(rel)
        if is_signature_file(rel):
            continue
        if is_compiled_path(rel):
            raise DigestMismatchError(f"refused {rel!r}: compiled or native file")
        content = item.get("content")
        if isinstance(content, str):
            data = content.encode("utf-8")
            sha = sha256_hex(data)
            if item.get("sha256") != sha:
                raise DigestMismatchError(f"manifest file {rel!r}: content does not hash to its stated sha256")
            files.append(ManifestFile(path=rel, sha256=sha, size=len(data), content=content))
        else:
            sha = str(item.get("sha256") or "")
            if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
                raise ManifestError("unreviewable manifest entry has no sha256", field="files.sha256")
            files.append(ManifestFile(path=rel, sha256=sha, size=as_int(item.get("size"), 0), content=None))
    return tuple(sorted(files, key=lambda f: f.path))


def manifest_from_payload(
    job_meta: Mapping[str, Any],
    app_name: str,
    payload: Mapping[str, Any],
    *,
    job_id: str,
    submitted_at: datetime,
    submitter: str | None = None,
) -> JobManifest:
    """The manifest of one app: files re-verified, the digest recomputed (a stated digest that differs raises
    :class:`~fednode.errors.DigestMismatchError`), the declaration from the payload over the meta's."""
    files = _verified_files(payload.get("files"))
    recomputed = files_digest(files)
    if payload.get("digest") != recomputed:
        raise DigestMismatchError(f"job {job_id}: stated app digest does not match the manifest's contents")
    declared = declared_in_meta(job_meta)
    declared.update({k: payload[k] for k in DECLARED_KEYS if payload.get(k) is not None})
    data_access = declared.get("data_access") or {}
    if not isinstance(data_access, Mapping):
        raise ManifestError("declared data_access is not an object", field="data_access")
    return JobManifest(
        job_id=job_id,
        study=str(declared.get("study") or job_meta.get("name") or job_id),
        app_name=app_name,
        digest=recomputed,
        files=files,
        kind=job_kind(files),
        submitter=submitter if submitter is not None else submitter_from_meta(job_meta),
        submitted_at=submitted_at,
        algorithm=str(declared.get("algorithm") or "unknown"),
        rounds=max(as_int(declared.get("rounds"), 1), 1),
        min_clients=as_int(job_meta.get("min_clients"), 1),
        sites=client_sites(job_meta),
        data_access={str(k): tuple(str(c) for c in v) for k, v in data_access.items()},
        dp=dp_params(declared.get("dp")),
        dataset=str(declared.get("dataset") or "omop"),
        pinned_meta=pinned_meta(job_meta),
        secure_aggregation=declared.get("secure_aggregation") is True,
    )


def submitter_from_meta(job_meta: Mapping[str, Any]) -> str:
    """``"name / org"`` of the submitter NVFlare recorded, or ``""``."""
    name, org = job_meta.get("submitter_name"), job_meta.get("submitter_org")
    return format_identity(str(name), str(org)) if name and org else ""


def submit_time(job_meta: Mapping[str, Any]) -> datetime:
    """When NVFlare says the job was submitted (epoch 0 when it does not say)."""
    value = job_meta.get("submit_time")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), tz=UTC)
    iso = job_meta.get("submit_time_iso")
    if isinstance(iso, str):
        try:
            parsed = datetime.fromisoformat(iso)
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.fromtimestamp(0, tz=UTC)


# --- the site side ----------------------------------------------------------------------------------------------


def manifest_for_site(job_meta: Mapping[str, Any], site_name: str) -> JobManifest:
    """The manifest of the app this site would run, every sha256 and the digest recomputed from the content.

    Content that does not hash to its stated sha256, a stated digest that differs from the recomputed one, or a
    compiled file raise :class:`~fednode.errors.DigestMismatchError`. Unreviewable files (binary, too large) keep
    ``content=None`` and their stated sha256: the policy's code scan denies them.
    """
    job_id = str(job_meta.get("job_id") or "")
    if not job_id:
        raise ManifestError("job meta has no job_id", field="job_id")
    app_name = app_for_site(job_meta, site_name)
    apps = encoded_apps(job_meta)
    if apps is None:
        raise ManifestError("job meta carries no fednode manifest", field=META_KEY)
    payload = decode_app(apps.get(app_name))
    return manifest_from_payload(job_meta, app_name, payload, job_id=job_id, submitted_at=submit_time(job_meta))


def stated_app_digests(job_meta: Mapping[str, Any]) -> dict[str, str]:
    """App name -> digest recomputed from each embedded manifest's files ({} when the meta carries none)."""
    apps = encoded_apps(job_meta)
    if apps is None:
        return {}
    digests: dict[str, str] = {}
    for app_name, encoded in sorted(apps.items()):
        files = _verified_files(decode_app(encoded).get("files"))
        digests[str(app_name)] = files_digest(files)
    return digests


# --- the submitting side ----------------------------------------------------------------------------------------


def _folder_payloads(
    folder: JobFolder, apps: list[str], declaration: Declaration | None
) -> dict[str, tuple[tuple[ManifestFile, ...], dict[str, Any]]]:
    override = declaration.as_json() if declaration is not None else {}
    out = {}
    for app_name in apps:
        files = read_app(folder.apps[app_name], submitted=True)
        out[app_name] = (files, app_payload(app_name, files, _folder_declaration(folder, files, app_name, override)))
    return out


def embed_manifest(job_folder: Path, declaration: Declaration | None = None) -> dict[str, str]:
    """Write the manifest of every client app of an exported job folder into its ``meta.json``.

    The declaration is ``meta["custom_props"]["fednode"]`` (and a manifest already embedded) overridden by
    ``declaration``; algorithm and rounds not declared come from the server config. Call it after the job folder
    is final and before submitting it. Returns app name -> digest. Raises
    :class:`~fednode.errors.JobFolderError` for a folder that is not an NVFlare job or an app with symbolic links,
    special or compiled files or over the size limit.
    """
    folder = read_job_folder(Path(job_folder))
    payloads = _folder_payloads(folder, apps_for_site(folder.meta, None), declaration)
    meta = dict(folder.meta)
    meta[META_KEY] = embedded_block({app: encode_app(p) for app, (_, p) in sorted(payloads.items())})
    (folder.root / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
    return {app: str(p["digest"]) for app, (_, p) in sorted(payloads.items())}


def build_manifests(
    job_dir: Path, *, site: str | None, submitted_at: datetime, submitter: str | None = None
) -> dict[str, JobManifest]:
    """What a site would review for each app a job folder sends to ``site`` (every client app when None).

    The embedded manifest when the folder carries one (a :class:`~fednode.errors.JobFolderError` when the
    folder's files no longer match it: the deploy check would refuse them), else the manifest
    :func:`embed_manifest` would write.
    """
    folder = read_job_folder(Path(job_dir))
    apps = apps_for_site(folder.meta, site)
    if not apps:
        raise JobFolderError(f"deploy_map sends no app to site {site!r}", file=str(folder.root / "meta.json"))
    job_id = str(folder.meta.get("job_id") or folder.meta.get("name") or folder.root.name)
    embedded = encoded_apps(folder.meta)
    out: dict[str, JobManifest] = {}
    for app_name in apps:
        files = read_app(folder.apps[app_name], submitted=True)
        if embedded is not None:
            payload = decode_app(embedded.get(app_name))
        else:
            payload = app_payload(app_name, files, _folder_declaration(folder, files, app_name, {}))
        manifest = manifest_from_payload(
            folder.meta, app_name, payload, job_id=job_id, submitted_at=submitted_at, submitter=submitter
        )
        if manifest.digest != files_digest(files):
            raise JobFolderError(
                f"the manifest embedded for app {app_name!r} does not match its files (changed after embedding?)",
                file=str(folder.root / "meta.json"),
            )
        out[app_name] = manifest
    return out
