"""Read a standard NVFlare 2.9 job folder into :class:`~policies.contracts.JobManifest` s, one per app.

A job folder holds ``meta.json`` and one folder per app (``app/``, or ``app_server/``, ``app_site-1/``, ...
as ``deploy_map`` names them), each with ``config/config_fed_client.json``, ``config/config_fed_server.json``
and optionally ``custom/*.py``. What the submitter declares for fednode lives in
``meta["custom_props"]["fednode"]`` (study, algorithm, rounds, dataset, data_access, dp).

The app digest (``app_digest``) is the one DESIGN.md fixes and the gate's digest validator recomputes:
sha256 over, for each file in ascending order of its POSIX path relative to the app folder, the bytes
``path (UTF-8) + b"\\0" + sha256_hex(file bytes) (ASCII) + b"\\n"``. Only NVFlare's per-submission signature
files are left out; compiled files are hashed like the rest and refused by the scan.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fednode.errors import PolicyFileError
from policies.codescan import is_compiled_path
from policies.contracts import DpParams, JobKind, JobManifest, ManifestFile
from policies.policy_model import format_identity

SIGNATURE_FILES = frozenset({".__nvfl_sig.json", ".__nvfl_submitter.crt"})
"""NVFlare's job signature files: randomised per submission, so never part of a digest."""

FEDNODE_META_KEY = "fednode"
"""Key inside ``meta["custom_props"]`` where a submitter may declare the study in plain JSON."""

EMBEDDED_MANIFEST_KEY = "fednode_manifest"
"""Top-level meta key where ``node.flare.manifest.embed_manifest`` puts each app's compressed manifest."""
_MAX_EMBEDDED_BYTES = 64 * 1024 * 1024

MAX_REVIEW_BYTES = 1024 * 1024
"""Files larger than this are hashed but carry no content (the scan then refuses them as unreviewable)."""

PINNED_META_KEYS = (
    "name",
    "min_clients",
    "mandatory_clients",
    "deploy_map",
    "scope",
    "resource_spec",
    "custom_props",
    "submitter_name",
    "submitter_org",
    "submitter_role",
)
"""Meta fields the digest does not cover but the site pins at approval and re-checks at deploy."""

_SERVER_SITES = frozenset({"server", "@server"})
_ALGORITHM_HINTS = (
    ("scaffold", "scaffold"),
    ("fedprox", "fedprox"),
    ("fedavg", "fedavg"),
    ("scatterandgather", "fedavg"),
)


def app_digest(entries: Iterable[tuple[str, str]]) -> str:
    """The whole-app digest from ``(relative_posix_path, sha256_hex_of_bytes)`` pairs (any order)."""
    h = hashlib.sha256()
    for path, file_hash in sorted(entries):
        if path.rsplit("/", 1)[-1] in SIGNATURE_FILES:
            continue
        h.update(path.encode("utf-8") + b"\0" + file_hash.encode("ascii") + b"\n")
    return h.hexdigest()


def read_app_files(app_dir: Path) -> tuple[ManifestFile, ...]:
    """Every file of an app folder (signature files excluded), with text content where reviewable."""
    if not app_dir.is_dir():
        raise PolicyFileError("app folder not found", file=str(app_dir))
    files: list[ManifestFile] = []
    for path in sorted(app_dir.rglob("*")):
        rel = path.relative_to(app_dir).as_posix()
        if path.is_symlink():
            raise PolicyFileError("symbolic links are not allowed in a job", file=rel)
        if not path.is_file() or path.name in SIGNATURE_FILES:
            continue
        data = path.read_bytes()
        files.append(ManifestFile(rel, hashlib.sha256(data).hexdigest(), len(data), _text_or_none(data)))
    return tuple(sorted(files, key=lambda f: f.path))


def compute_app_digest(app_dir: Path) -> str:
    """The digest of the bytes in an app folder as they lie on disk (what the gate checks at deploy)."""
    return app_digest((f.path, f.sha256) for f in read_app_files(app_dir))


def manifest_digest(files: Iterable[ManifestFile]) -> str:
    """The digest recomputed from a manifest's own files (never trust the stated one)."""
    return app_digest((f.path, f.sha256) for f in files)


@dataclass(frozen=True)
class JobFolder:
    """A job folder as read from disk: its meta and its app folders by name."""

    root: Path
    meta: dict[str, Any]
    apps: dict[str, Path]

    def apps_for_site(self, site: str) -> list[str]:
        """The apps ``deploy_map`` sends to ``site`` (``@ALL`` included), server apps excluded."""
        deploy_map = self.meta.get("deploy_map") or {}
        chosen = []
        for app, targets in sorted(deploy_map.items()):
            names = {str(t) for t in targets} if isinstance(targets, list) else set()
            if site in names or "@ALL" in names:
                chosen.append(app)
        return chosen


def read_job_folder(job_dir: Path) -> JobFolder:
    """Read ``meta.json`` and locate the app folders it deploys."""
    meta_path = job_dir / "meta.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyFileError("meta.json not found: not an NVFlare job folder", file=str(meta_path)) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise PolicyFileError("meta.json is not valid JSON", file=str(meta_path), line=line) from None
    if not isinstance(meta, dict):
        raise PolicyFileError("meta.json must hold a JSON object", file=str(meta_path))
    deploy_map = meta.get("deploy_map")
    if not isinstance(deploy_map, dict) or not deploy_map:
        raise PolicyFileError("deploy_map is missing or empty", file=str(meta_path), field="deploy_map")
    apps: dict[str, Path] = {}
    for app in deploy_map:
        app_dir = job_dir / str(app)
        if not app_dir.is_dir() or app_dir.is_symlink():
            raise PolicyFileError(f"deploy_map names app {app!r} but its folder is missing", file=str(meta_path))
        apps[str(app)] = app_dir
    return JobFolder(job_dir, meta, apps)


def build_manifest(
    folder: JobFolder,
    app: str,
    *,
    submitted_at: datetime,
    job_id: str | None = None,
    submitter: str | None = None,
) -> JobManifest:
    """The manifest of one app of a job folder, as the site reviews it."""
    meta = folder.meta
    files = read_app_files(folder.apps[app])
    embedded = _embedded_payload(meta, app, folder.root)
    decl = {**_declaration(meta, folder.root), **{k: v for k, v in embedded.items() if k in _DECLARED}}
    server_cfg = _read_json(folder.apps[app] / "config" / "config_fed_server.json")
    inferred_algorithm, inferred_rounds = _from_server_config(server_cfg)
    rounds = max(int(decl.get("rounds") or 0), inferred_rounds or 0, 1)
    sites = tuple(
        sorted(
            {
                str(t)
                for targets in (meta.get("deploy_map") or {}).values()
                if isinstance(targets, list)
                for t in targets
            }
            - _SERVER_SITES
        )
    )
    mandatory = meta.get("mandatory_clients")
    if isinstance(mandatory, list) and mandatory:
        sites = tuple(sorted(set(sites) | {str(m) for m in mandatory}))
    pinned = {k: meta[k] for k in PINNED_META_KEYS if k in meta}
    if server_cfg is not None:
        pinned["server_workflows"] = [w.get("path") for w in server_cfg.get("workflows", []) if isinstance(w, dict)]
    return JobManifest(
        job_id=job_id or str(meta.get("job_id") or meta.get("name") or folder.root.name),
        study=str(decl.get("study") or meta.get("name") or folder.root.name),
        app_name=app,
        digest=str(embedded.get("digest") or manifest_digest(files)),  # a stale embedded digest is denied
        files=files,
        kind=JobKind.BYOC if any(_is_code(f.path) for f in files) else JobKind.CONFIG_ONLY,
        submitter=submitter or _submitter_from_meta(meta),
        submitted_at=submitted_at,
        algorithm=str(decl.get("algorithm") or inferred_algorithm or "unknown"),
        rounds=rounds,
        min_clients=int(meta.get("min_clients") or 1),
        sites=sites,
        data_access={str(t): tuple(str(c) for c in cols) for t, cols in (decl.get("data_access") or {}).items()},
        dp=_dp(decl.get("dp"), folder.root),
        dataset=str(decl.get("dataset") or "omop"),
        pinned_meta=pinned,
    )


def build_manifests(
    job_dir: Path, *, site: str | None, submitted_at: datetime, submitter: str | None = None
) -> dict[str, JobManifest]:
    """Manifests of the apps a job sends to ``site`` (all client apps when ``site`` is None)."""
    folder = read_job_folder(job_dir)
    if site is not None:
        apps = folder.apps_for_site(site)
        if not apps:
            raise PolicyFileError(f"deploy_map sends no app to site {site!r}", file=str(job_dir / "meta.json"))
    else:
        apps = [a for a, targets in folder.meta["deploy_map"].items() if set(map(str, targets)) - _SERVER_SITES]
    return {a: build_manifest(folder, a, submitted_at=submitted_at, submitter=submitter) for a in sorted(apps)}


def _declaration(meta: Mapping[str, Any], root: Path) -> dict[str, Any]:
    props = meta.get("custom_props") or {}
    decl = props.get(FEDNODE_META_KEY) if isinstance(props, dict) else None
    if decl is None:
        return {}
    if not isinstance(decl, dict):
        raise PolicyFileError(
            "must be an object", file=str(root / "meta.json"), field=f"custom_props.{FEDNODE_META_KEY}"
        )
    return decl


_DECLARED = frozenset({"study", "algorithm", "rounds", "dataset", "data_access", "dp"})


def _embedded_payload(meta: Mapping[str, Any], app: str, root: Path) -> dict[str, Any]:
    """The app's embedded manifest (zlib + base64 JSON), decoded with a size limit; {} when there is none."""
    block = meta.get(EMBEDDED_MANIFEST_KEY)
    if not isinstance(block, dict):
        return {}
    encoded = (block.get("apps") or {}).get(app) if isinstance(block.get("apps"), dict) else None
    if encoded is None:
        return {}
    where = f"{EMBEDDED_MANIFEST_KEY}.apps.{app}"
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(base64.b64decode(str(encoded).encode("ascii"), validate=True), _MAX_EMBEDDED_BYTES)
        if inflater.unconsumed_tail or not inflater.eof:
            raise ValueError("truncated or too large")
        payload = json.loads(raw.decode("utf-8"))
    except (ValueError, zlib.error, UnicodeError):
        raise PolicyFileError(
            "embedded manifest cannot be decoded", file=str(root / "meta.json"), field=where
        ) from None
    if not isinstance(payload, dict):
        raise PolicyFileError("embedded manifest is not an object", file=str(root / "meta.json"), field=where)
    return payload


def _dp(raw: object, root: Path) -> DpParams | None:
    if raw is None:
        return None
    where = f"custom_props.{FEDNODE_META_KEY}.dp"
    if not isinstance(raw, dict):
        raise PolicyFileError("must be an object", file=str(root / "meta.json"), field=where)
    try:
        return DpParams(
            noise_multiplier=float(raw["noise_multiplier"]),
            max_grad_norm=float(raw["max_grad_norm"]),
            target_epsilon=float(raw["target_epsilon"]),
            delta=float(raw["delta"]),
            sample_rate=float(raw.get("sample_rate", 0.0)),
            steps=int(raw.get("steps", 0)),
            accountant=str(raw.get("accountant", "prv")),
        )
    except KeyError as exc:
        raise PolicyFileError(
            "required key is missing", file=str(root / "meta.json"), field=f"{where}.{exc.args[0]}"
        ) from None
    except (TypeError, ValueError):
        raise PolicyFileError("DP parameters must be numbers", file=str(root / "meta.json"), field=where) from None


def _from_server_config(cfg: Mapping[str, Any] | None) -> tuple[str | None, int | None]:
    if cfg is None:
        return None, None
    algorithm: str | None = None
    rounds: int | None = None
    for wf in cfg.get("workflows", []):
        if not isinstance(wf, dict):
            continue
        cls = str(wf.get("path") or wf.get("name") or "").rsplit(".", 1)[-1].lower()
        for hint, name in _ALGORITHM_HINTS:
            if hint in cls and algorithm is None:
                algorithm = name
        args = wf.get("args") or {}
        if isinstance(args, dict) and isinstance(args.get("num_rounds"), int):
            rounds = max(rounds or 0, args["num_rounds"])
    return algorithm, rounds


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise PolicyFileError("not valid JSON", file=str(path)) from None
    return data if isinstance(data, dict) else None


def _submitter_from_meta(meta: Mapping[str, Any]) -> str:
    name, org = meta.get("submitter_name"), meta.get("submitter_org")
    return format_identity(str(name), str(org)) if name and org else ""


def _is_code(path: str) -> bool:
    """Custom code makes a job bring-your-own-code, as NVFlare's own BYOC check does."""
    return path.startswith("custom/") or path.endswith(".py") or is_compiled_path(path)


def _text_or_none(data: bytes) -> str | None:
    if len(data) > MAX_REVIEW_BYTES or b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
