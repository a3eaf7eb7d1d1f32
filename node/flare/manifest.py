"""The job manifest: every file of an app, its digest and the declared study, carried in the NVFlare job meta.

The submitting side calls :func:`embed_manifest` on an exported job folder before submission; it writes one
compressed manifest per app (``deploy_map`` may send different apps to different sites) under the top-level
meta key :data:`META_KEY`. A site calls :func:`manifest_for_site` on the ``JOB_META`` it receives at
``check_resources``: it picks the app deployed to it, recomputes every file's sha256 from the carried content and
the app digest from those, and never trusts the stated digest.

The digest rule (DESIGN.md): sha256 over each file's POSIX path relative to the app folder and the sha256 of its
bytes, in path order, excluding only NVFlare's two per-folder signature files. Compiled or native files
(``__pycache__``, ``.pyc``, ``.so``, ...) and symbolic links are refused outright: a reviewed ``model.py`` with a
hidden ``.pyc`` beside it runs the ``.pyc``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from fednode.errors import DigestMismatchError, ManifestError, PolicyFileError
from policies.codescan import is_compiled_path
from policies.contracts import DpParams, JobKind, JobManifest, ManifestFile
from policies.jobcodec import dp_from_json, dp_to_json
from policies.jobfolder import (
    EMBEDDED_MANIFEST_KEY,
    FEDNODE_META_KEY,
    PINNED_META_KEYS,
    SIGNATURE_FILES,
    app_digest,
    build_manifests,
    read_app_files,
)
from policies.policy_model import format_identity

META_KEY = EMBEDDED_MANIFEST_KEY
"""Top-level job-meta key holding ``{"version": 1, "apps": {app_name: <zlib+base64 JSON>}}``."""
MANIFEST_VERSION = 1
MAX_ENCODED_BYTES = 8 * 1024 * 1024
MAX_DECODED_BYTES = 64 * 1024 * 1024
ALL_SITES = frozenset({"@ALL"})
_SERVER_SITES = frozenset({"server", "@server"})
_DECLARED = ("study", "algorithm", "rounds", "dataset", "data_access", "dp")

__all__ = [
    "META_KEY",
    "PINNED_META_KEYS",
    "Declaration",
    "digest_of",
    "embed_manifest",
    "folder_digest",
    "manifest_for_site",
    "pinned_meta",
    "scan_app_folder",
]


@dataclass(frozen=True)
class Declaration:
    """What the submitter declares about the study besides the code (shown to reviewers, checked by policy).

    Fields left ``None`` fall back to ``meta["custom_props"]["fednode"]`` and then to the defaults the policy
    package infers.
    """

    study: str | None = None
    algorithm: str | None = None
    rounds: int | None = None
    data_access: Mapping[str, tuple[str, ...]] | None = None
    dp: DpParams | None = None
    dataset: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.study is not None:
            out["study"] = self.study
        if self.algorithm is not None:
            out["algorithm"] = self.algorithm
        if self.rounds is not None:
            out["rounds"] = self.rounds
        if self.data_access is not None:
            out["data_access"] = {k: list(v) for k, v in self.data_access.items()}
        if self.dp is not None:
            out["dp"] = dp_to_json(self.dp)
        if self.dataset is not None:
            out["dataset"] = self.dataset
        return out


# --- the digest rule (policies.jobfolder.app_digest) ------------------------------------------------------------


def digest_of(entries: Iterable[tuple[str, str]]) -> str:
    """The app digest from ``(relative path, sha256 hex)`` pairs: ``policies.jobfolder.app_digest``."""
    return str(app_digest(entries))


def check_rel_path(rel_path: str) -> None:
    """Refuse absolute paths, ``..``, backslashes and empty parts in a manifest path."""
    pure = PurePosixPath(rel_path)
    if not rel_path or "\\" in rel_path or "\x00" in rel_path or pure.is_absolute():
        raise ManifestError("manifest path is not a relative POSIX path", field="files.path")
    if any(p in ("", ".", "..") for p in rel_path.split("/")):
        raise ManifestError("manifest path has an empty, '.' or '..' part", field="files.path")


def scan_app_folder(app_folder: Path) -> list[tuple[str, Path]]:
    """Every file of an app as ``(relative POSIX path, absolute path)``, in path order, signature files left out.

    Raises :class:`DigestMismatchError` for a symbolic link, a special file, or a compiled/native file
    (``policies.codescan.is_compiled_path``): such an app can never match an approval.
    """
    root = Path(app_folder)
    if root.is_symlink() or not root.is_dir():
        raise DigestMismatchError(f"app folder {root.name!r} is missing or is a symbolic link")
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for name in dirnames:
            rel = _rel(root, here / name)
            if (here / name).is_symlink():
                raise DigestMismatchError(f"symbolic link in app: {rel!r}")
            if is_compiled_path(rel + "/x"):
                raise DigestMismatchError(f"refused {rel!r}: compiled-code folder")
        for name in filenames:
            path = here / name
            rel = _rel(root, path)
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode) or not stat.S_ISREG(mode):
                raise DigestMismatchError(f"symbolic link or special file in app: {rel!r}")
            if name in SIGNATURE_FILES:
                continue
            if is_compiled_path(rel):
                raise DigestMismatchError(f"refused {rel!r}: compiled or native file")
            found.append((rel, path))
    return sorted(found)


def folder_digest(app_folder: Path) -> str:
    """The digest of the bytes in an app folder (the deploy-time check)."""
    return digest_of((rel, _sha256_file(path)) for rel, path in scan_app_folder(app_folder))


# --- building and embedding -------------------------------------------------------------------------------------


def build_app_files(app_folder: Path) -> tuple[ManifestFile, ...]:
    """Every file of an app as the policies package reads it (text content where reviewable), after refusing
    compiled files and symbolic links."""
    scan_app_folder(app_folder)
    return tuple(read_app_files(app_folder))


def job_kind(files: Iterable[ManifestFile]) -> JobKind:
    """``byoc`` when the app brings code of its own (``custom/``, ``.py``, compiled), else ``config_only``."""
    code = any(f.path.startswith("custom/") or f.path.endswith(".py") or is_compiled_path(f.path) for f in files)
    return JobKind.BYOC if code else JobKind.CONFIG_ONLY


def encode_app(app_name: str, files: tuple[ManifestFile, ...], declared: Mapping[str, Any]) -> str:
    """One app's manifest as compact JSON, zlib-compressed, base64 (text, so it survives the JSON meta)."""
    payload = {
        "v": MANIFEST_VERSION,
        "app_name": app_name,
        "digest": digest_of((f.path, f.sha256) for f in files),
        "files": [{"path": f.path, "sha256": f.sha256, "size": f.size, "content": f.content} for f in files],
        **{k: declared[k] for k in _DECLARED if declared.get(k) is not None},
    }
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def embed_manifest(job_folder: Path, declaration: Declaration | None = None) -> dict[str, str]:
    """Write the manifest of every client app of an exported job folder into its ``meta.json``.

    The declaration is ``meta["custom_props"]["fednode"]`` overridden by ``declaration``; algorithm and rounds
    not declared are inferred from the server config as ``policies.jobfolder`` does. Call it after the job folder
    is final and before submitting it. Returns app name -> digest. Raises ``DigestMismatchError`` for an app with
    compiled files or symbolic links, ``ManifestError`` for a folder that is not an NVFlare job.
    """
    job_folder = Path(job_folder)
    meta_path = job_folder / "meta.json"
    try:
        manifests = build_manifests(job_folder, site=None, submitted_at=datetime.now(UTC))
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except PolicyFileError as exc:
        raise ManifestError(exc.message) from None
    override = declaration.as_json() if declaration is not None else {}
    apps: dict[str, str] = {}
    digests: dict[str, str] = {}
    for app_name, inferred in sorted(manifests.items()):
        files = build_app_files(job_folder / app_name)
        declared: dict[str, Any] = {
            "study": inferred.study,
            "algorithm": inferred.algorithm,
            "rounds": inferred.rounds,
            "dataset": inferred.dataset,
            "data_access": {k: list(v) for k, v in inferred.data_access.items()},
            "dp": None if inferred.dp is None else dp_to_json(inferred.dp),
            **override,
        }
        apps[app_name] = encode_app(app_name, files, declared)
        digests[app_name] = digest_of((f.path, f.sha256) for f in files)
    meta[META_KEY] = {"version": MANIFEST_VERSION, "apps": apps}
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
    return digests


# --- the site side ----------------------------------------------------------------------------------------------


def app_for_site(job_meta: Mapping[str, Any], site_name: str) -> str:
    """The app that ``deploy_map`` sends to this site."""
    deploy_map = job_meta.get("deploy_map")
    if not isinstance(deploy_map, Mapping):
        raise ManifestError("job meta has no deploy_map", field="deploy_map")
    for app_name, sites in sorted(deploy_map.items()):
        names = {s for s in sites or [] if isinstance(s, str)} if isinstance(sites, list) else set()
        if site_name in names or names & ALL_SITES:
            return str(app_name)
    raise ManifestError("deploy_map sends no app to this site", field="deploy_map")


def pinned_meta(job_meta: Mapping[str, Any]) -> dict[str, Any]:
    """The policy-relevant meta fields present (``policies.jobfolder.PINNED_META_KEYS``), as JSON values."""
    pinned: dict[str, Any] = {}
    for key in PINNED_META_KEYS:
        if key not in job_meta:
            continue
        value = job_meta[key]
        if key == "custom_props" and isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if k != META_KEY}
        pinned[key] = json.loads(json.dumps(value, sort_keys=True, default=str))
    return pinned


def _encoded_apps(job_meta: Mapping[str, Any]) -> Mapping[str, Any]:
    block = job_meta.get(META_KEY)
    if block is None:
        custom = job_meta.get("custom_props")
        block = custom.get(META_KEY) if isinstance(custom, Mapping) else None
    if not isinstance(block, Mapping):
        raise ManifestError("job meta carries no fednode manifest", field=META_KEY)
    if block.get("version") != MANIFEST_VERSION:
        raise ManifestError("unsupported manifest version", field=f"{META_KEY}.version")
    apps = block.get("apps")
    if not isinstance(apps, Mapping):
        raise ManifestError("manifest has no apps", field=f"{META_KEY}.apps")
    return apps


def decode_app(encoded: object) -> dict[str, Any]:
    """Decompress one app's manifest with size limits (no zip bomb gets through)."""
    if not isinstance(encoded, str) or len(encoded) > MAX_ENCODED_BYTES:
        raise ManifestError("manifest blob is not text or is too large", field=META_KEY)
    try:
        compressed = base64.b64decode(encoded.encode("ascii"), validate=True)
        inflater = zlib.decompressobj()
        raw = inflater.decompress(compressed, MAX_DECODED_BYTES)
        if inflater.unconsumed_tail or not inflater.eof:
            raise ManifestError("manifest is truncated or inflates beyond the size limit", field=META_KEY)
        payload = json.loads(raw.decode("utf-8"))
    except (binascii.Error, zlib.error, UnicodeError, ValueError) as exc:
        raise ManifestError(f"manifest cannot be decoded ({type(exc).__name__})", field=META_KEY) from None
    if not isinstance(payload, dict) or payload.get("v") != MANIFEST_VERSION:
        raise ManifestError("manifest payload is not a version-1 object", field=META_KEY)
    return payload


def manifest_for_site(job_meta: Mapping[str, Any], site_name: str) -> JobManifest:
    """The manifest of the app this site would run, with every sha256 and the digest recomputed from content.

    A file whose content does not hash to its stated sha256, or a stated digest that differs from the recomputed
    one, raises :class:`DigestMismatchError`, as does a compiled file. Unreviewable files (binary, too large)
    keep ``content=None`` and their stated sha256: the policy's code scan denies them.
    """
    job_id = str(job_meta.get("job_id") or "")
    if not job_id:
        raise ManifestError("job meta has no job_id", field="job_id")
    app_name = app_for_site(job_meta, site_name)
    payload = decode_app(_encoded_apps(job_meta).get(app_name))
    files = _verified_files(payload.get("files"))
    recomputed = digest_of((f.path, f.sha256) for f in files)
    if payload.get("digest") != recomputed:
        raise DigestMismatchError(f"job {job_id}: stated app digest does not match the manifest's contents")
    custom = job_meta.get("custom_props")
    declared = dict(custom.get(FEDNODE_META_KEY) or {}) if isinstance(custom, Mapping) else {}
    declared.update({k: payload[k] for k in _DECLARED if payload.get(k) is not None})
    name, org = job_meta.get("submitter_name"), job_meta.get("submitter_org")
    return JobManifest(
        job_id=job_id,
        study=str(declared.get("study") or job_meta.get("name") or job_id),
        app_name=app_name,
        digest=recomputed,
        files=files,
        kind=job_kind(files),
        submitter=format_identity(str(name), str(org)) if name and org else "",
        submitted_at=_submit_time(job_meta),
        algorithm=str(declared.get("algorithm") or "unknown"),
        rounds=max(_int(declared.get("rounds"), 1), 1),
        min_clients=_int(job_meta.get("min_clients"), 1),
        sites=_sites(job_meta),
        data_access={str(k): tuple(str(c) for c in v) for k, v in (declared.get("data_access") or {}).items()},
        dp=_dp(declared.get("dp")),
        dataset=str(declared.get("dataset") or "omop"),
        pinned_meta=pinned_meta(job_meta),
    )


def _sites(job_meta: Mapping[str, Any]) -> tuple[str, ...]:
    """Every client site the job names (deploy_map targets without the server, plus mandatory clients)."""
    names = {
        str(t) for targets in (job_meta.get("deploy_map") or {}).values() if isinstance(targets, list) for t in targets
    } - _SERVER_SITES
    mandatory = job_meta.get("mandatory_clients")
    if isinstance(mandatory, list):
        names |= {str(m) for m in mandatory}
    return tuple(sorted(names))


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
        if PurePosixPath(rel).name in SIGNATURE_FILES:
            continue
        if is_compiled_path(rel):
            raise DigestMismatchError(f"refused {rel!r}: compiled or native file")
        content = item.get("content")
        if isinstance(content, str):
            data = content.encode("utf-8")
            sha = hashlib.sha256(data).hexdigest()
            if item.get("sha256") != sha:
                raise DigestMismatchError(f"manifest file {rel!r}: content does not hash to its stated sha256")
            files.append(ManifestFile(path=rel, sha256=sha, size=len(data), content=content))
        else:
            sha = str(item.get("sha256") or "")
            if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
                raise ManifestError("unreviewable manifest entry has no sha256", field="files.sha256")
            files.append(ManifestFile(path=rel, sha256=sha, size=_int(item.get("size"), 0), content=None))
    return tuple(sorted(files, key=lambda f: f.path))


def _submit_time(job_meta: Mapping[str, Any]) -> datetime:
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


def _dp(raw: object) -> DpParams | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ManifestError("declared dp is not an object", field="dp")
    try:
        return dp_from_json(raw)
    except (KeyError, TypeError, ValueError):
        raise ManifestError("declared dp block is malformed", field="dp") from None


def _int(value: object, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return default
    try:
        return int(value)
    except ValueError:
        return default


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
