"""What a job declares besides its code: the study (``custom_props["fednode"]``), the fields inferred from the
server config, and the meta fields a site pins at approval."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fednode.errors import ManifestError
from policies.contracts import DpParams, JobKind, ManifestFile
from policies.jobcodec import dp_from_json, dp_to_json
from policies.manifest._codec import META_KEY
from policies.manifest._digest import is_compiled_path

FEDNODE_META_KEY = "fednode"
"""Key inside ``meta["custom_props"]`` where a submitter may declare the study in plain JSON."""

DECLARED_KEYS = ("study", "algorithm", "rounds", "dataset", "data_access", "dp", "secure_aggregation")
"""The declared fields an embedded manifest carries beside the files."""

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

SERVER_SITES = frozenset({"server", "@server"})
ALL_SITES = frozenset({"@ALL"})
_ALGORITHM_HINTS = (
    ("scaffold", "scaffold"),
    ("fedprox", "fedprox"),
    ("fedavg", "fedavg"),
    ("scatterandgather", "fedavg"),
)


@dataclass(frozen=True)
class Declaration:
    """What the submitter declares about the study besides the code (shown to reviewers, checked by policy).

    Fields left ``None`` fall back to ``meta["custom_props"]["fednode"]`` and then to what the server config
    implies (algorithm, rounds) or the defaults (dataset ``omop``).
    """

    study: str | None = None
    algorithm: str | None = None
    rounds: int | None = None
    data_access: Mapping[str, tuple[str, ...]] | None = None
    dp: DpParams | None = None
    dataset: str | None = None
    secure_aggregation: bool | None = None

    def as_json(self) -> dict[str, Any]:
        """The fields that are set, as JSON values."""
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
        if self.secure_aggregation is not None:
            out["secure_aggregation"] = self.secure_aggregation
        return out


def declared_in_meta(job_meta: Mapping[str, Any]) -> dict[str, Any]:
    """``meta["custom_props"]["fednode"]`` ({} when absent)."""
    props = job_meta.get("custom_props")
    decl = props.get(FEDNODE_META_KEY) if isinstance(props, Mapping) else None
    if decl is None:
        return {}
    if not isinstance(decl, Mapping):
        raise ManifestError("must be an object", field=f"custom_props.{FEDNODE_META_KEY}")
    return dict(decl)


def pinned_meta(job_meta: Mapping[str, Any]) -> dict[str, Any]:
    """The policy-relevant meta fields present (:data:`PINNED_META_KEYS`), as JSON values, manifest left out."""
    pinned: dict[str, Any] = {}
    for key in PINNED_META_KEYS:
        if key not in job_meta:
            continue
        value = job_meta[key]
        if key == "custom_props" and isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if k != META_KEY}
        pinned[key] = json.loads(json.dumps(value, sort_keys=True, default=str))
    return pinned


def job_kind(files: Iterable[ManifestFile]) -> JobKind:
    """``byoc`` when the app brings code of its own (``custom/``, ``.py``, compiled), as NVFlare's BYOC check."""
    code = any(f.path.startswith("custom/") or f.path.endswith(".py") or is_compiled_path(f.path) for f in files)
    return JobKind.BYOC if code else JobKind.CONFIG_ONLY


def client_sites(job_meta: Mapping[str, Any]) -> tuple[str, ...]:
    """Every client site the job names (deploy_map targets without the server, plus mandatory clients)."""
    deploy_map = job_meta.get("deploy_map")
    names = {
        str(t)
        for targets in (deploy_map.values() if isinstance(deploy_map, Mapping) else ())
        if isinstance(targets, list)
        for t in targets
    } - SERVER_SITES
    mandatory = job_meta.get("mandatory_clients")
    if isinstance(mandatory, list):
        names |= {str(m) for m in mandatory}
    return tuple(sorted(names))


def apps_for_site(job_meta: Mapping[str, Any], site: str | None) -> list[str]:
    """The apps ``deploy_map`` sends to ``site`` (``@ALL`` included); every client app when ``site`` is None."""
    deploy_map = job_meta.get("deploy_map")
    if not isinstance(deploy_map, Mapping):
        raise ManifestError("job meta has no deploy_map", field="deploy_map")
    chosen = []
    for app_name, targets in sorted(deploy_map.items()):
        names = {t for t in targets if isinstance(t, str)} if isinstance(targets, list) else set()
        if (site is None and names - SERVER_SITES) or (site is not None and (site in names or names & ALL_SITES)):
            chosen.append(str(app_name))
    return chosen


def app_for_site(job_meta: Mapping[str, Any], site: str) -> str:
    """The app that ``deploy_map`` sends to this site."""
    apps = apps_for_site(job_meta, site)
    if not apps:
        raise ManifestError(f"deploy_map sends no app to site {site!r}", field="deploy_map")
    return apps[0]


def infer_from_server_config(cfg: Mapping[str, Any] | None) -> tuple[str | None, int | None]:
    """The algorithm and rounds a server config's workflows imply (``None`` where it says nothing)."""
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


def as_int(value: object, default: int) -> int:
    """An integer from a JSON value, else ``default``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return default
    try:
        return int(value)
    except ValueError:
        return default


def dp_params(raw: object) -> DpParams | None:
    """The declared DP block, or None."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ManifestError("declared dp is not an object", field="dp")
    try:
        return dp_from_json(raw)
    except (KeyError, TypeError, ValueError):
        raise ManifestError("declared dp block is malformed", field="dp") from None
