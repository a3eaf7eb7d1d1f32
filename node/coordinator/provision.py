"""NVFlare provisioning for a consortium: a coordinator, N sites and an admin, mutual TLS over gRPC.

``provision_federation`` writes a ``project.yml``, runs NVFlare's own provisioner (certificates, startup kits), then
finishes each kit the way fednode needs it:

- the coordinator's ``local/resources.json`` keeps a held job queued through the review window (DESIGN.md "The
  approval gate": ``max_schedule_count`` large, ``min_schedule_interval`` 5 s, ``max_schedule_interval`` 10 s) and
  keeps job and snapshot storage inside the workspace (NVFlare's default is a shared ``/tmp/nvflare``);
- every kit's component allow-list admits fednode's own classes (``node.site.``, ``node.coordinator.``) and nothing
  broader;
- the coordinator gets an Ed25519 model-signing key; each site's ``local/`` pins its public key;
- a site whose public key is given (``SiteKit.public_key``: the ``.pub`` its ``fednode site init`` made) has it
  pinned twice: in the server kit (``local/fednode-site-keys/<site>.pub``, what the coordinator verifies that
  site's signed audit heads against) and in the site's own kit (``local/site.pub``, its identity);
- each site's ``local/`` receives its compiled policy files (``privacy.json``, ``authorization.json``) and the gate
  components, merged into ``resources.json``.

Provisioning again into a folder that holds a federation would replace its root CA and the coordinator's signing
key, and every kit already sent to a hospital would stop working: it is refused unless ``force`` is given
(:func:`existing_federation` says what would be lost). With ``force`` the new kits are built beside the old ones
and swapped in only when complete, so a failure leaves the old federation as it was.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import re
import secrets
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fednode.atomic import write_text_atomic
from fednode.errors import ConfigError, FednodeError, ServiceError
from node.kit.layout import (
    COORDINATOR_KEY_DIR,
    COORDINATOR_PUBLIC_KEY,
    FEDERATION_FILE,
    SITE_KEYS_DIR,
    SITE_PUBLIC_KEY,
    Federation,
)
from policies.keys import key_id, load_or_create_site_key, load_public_key, load_site_public_key

log = logging.getLogger("fednode.node.coordinator.provision")

FEDNODE_CLASS_PREFIXES = ("node.site.", "node.coordinator.")
"""Allow-list prefixes for fednode's NVFlare components (gate, egress guard, filters, executor; controller)."""

MIN_SCHEDULE_INTERVAL_S = 5.0
MAX_SCHEDULE_INTERVAL_S = 10.0
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_ORG_RE = re.compile(r"^[A-Za-z0-9_]{1,63}$")  # NVFlare's own rule for organisation names
WORKSPACE = "workspace"
"""NVFlare's provisioning workspace inside the federation folder (``<project>/prod_NN/<participant>``)."""


@dataclass(frozen=True)
class SiteKit:
    """What a site brings into provisioning: its name, organisation and compiled ``local/`` content."""

    name: str
    org: str
    local_files: Mapping[str, Any] = field(default_factory=dict)
    """File name -> JSON-serialisable content written into ``local/`` (``privacy.json``, ``authorization.json``)."""
    components: Sequence[Mapping[str, Any]] = ()
    """NVFlare components (``{"id", "path", "args"}``) merged into the site's ``local/resources.json``."""
    resources: Mapping[str, Any] = field(default_factory=dict)
    """Top-level ``resources.json`` keys a compiled policy sets (other than ``components``)."""
    public_key: str | None = None
    """The site's Ed25519 public key (PEM) to pin at the coordinator and in its kit; ``None``: not pinned (the
    coordinator then anchors none of that site's audit heads)."""


def scheduler_args(review_window_h: float) -> dict[str, Any]:
    """``DefaultJobScheduler`` arguments that keep a held job queued for ``review_window_h`` hours.

    The scheduler backs off from 5 s to 10 s and gives up after ``max_schedule_count`` tries; the count covers the
    whole window at the 10 s ceiling.
    """
    if review_window_h <= 0:
        raise ConfigError("review window must be positive", title="ConfigError")
    count = math.ceil(review_window_h * 3600 / MAX_SCHEDULE_INTERVAL_S) + 8
    return {
        "max_jobs": 4,
        "max_schedule_count": count,
        "min_schedule_interval": MIN_SCHEDULE_INTERVAL_S,
        "max_schedule_interval": MAX_SCHEDULE_INTERVAL_S,
    }


def project_dict(
    project: str,
    sites: Sequence[SiteKit],
    *,
    admin: str,
    admin_org: str,
    server_host: str,
    fl_port: int,
    admin_port: int,
) -> dict[str, Any]:
    """The NVFlare ``project.yml`` (api_version 3) for a coordinator, the sites and one project admin."""
    _check_names(project, sites)
    for option, port in (("--port", fl_port), ("--admin-port", admin_port)):
        if not 1 <= port <= 65535:
            raise ConfigError(f"{option} {port}: a TCP port is a number from 1 to 65535")
    participants: list[dict[str, Any]] = [
        {
            "name": server_host,
            "type": "server",
            "org": admin_org,
            "fed_learn_port": fl_port,
            "admin_port": admin_port,
        }
    ]
    participants += [{"name": s.name, "type": "client", "org": s.org} for s in sites]
    participants.append({"name": admin, "type": "admin", "org": admin_org, "role": "project_admin"})
    return {
        "api_version": 3,
        "name": project,
        "description": "fednode consortium (provisioned by fednode)",
        "participants": participants,
        "builders": [
            {"path": "nvflare.lighter.impl.workspace.WorkspaceBuilder"},
            {
                "path": "nvflare.lighter.impl.static_file.StaticFileBuilder",
                "args": {"config_folder": "config", "scheme": "grpc"},
            },
            {"path": "nvflare.lighter.impl.cert.CertBuilder"},
            {"path": "nvflare.lighter.impl.signature.SignatureBuilder"},
        ],
    }


def provision_federation(
    out_dir: Path,
    sites: Sequence[SiteKit],
    *,
    project: str = "fednode",
    admin: str = "admin@coordinator.org",
    admin_org: str = "coordinator",
    server_host: str = "localhost",
    fl_port: int = 8002,
    admin_port: int | None = None,
    review_window_h: float = 72.0,
    server_components: Sequence[Mapping[str, Any]] = (),
    extra_class_prefixes: Sequence[str] = (),
    force: bool = False,
) -> Federation:
    """Provision startup kits under ``out_dir`` and finish them for fednode.

    A folder that already holds a federation is refused (:class:`ConfigError` saying what would be lost) unless
    ``force``; then the kits are replaced as a whole, only once the new ones are complete.

    ``admin_port`` defaults to ``fl_port``: NVFlare 2.9 serves admin and FL traffic on one port, so the coordinator
    opens exactly one.
    """
    admin_port = fl_port if admin_port is None else admin_port
    spec = project_dict(
        project,
        sites,
        admin=admin,
        admin_org=admin_org,
        server_host=server_host,
        fl_port=fl_port,
        admin_port=admin_port,
    )
    existing = existing_federation(out_dir)
    if existing is not None and not force:
        raise ConfigError(
            f"{out_dir}: already holds a provisioned federation ({existing}); provisioning again replaces the root "
            "CA and the coordinator's signing key, and every kit already sent stops working. Provision into a new "
            "folder (--out), or pass --force to replace it."
        )
    project_yml = yaml.safe_dump(spec, sort_keys=False)  # before NVFlare, which edits the dicts it is given
    made_dir = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    workspace = out_dir / WORKSPACE
    staging = out_dir / f".{WORKSPACE}.{secrets.token_hex(6)}.new"
    try:
        federation = Federation(
            project=project,
            root=out_dir,
            server_name=server_host,
            server_dir=workspace / project / "prod_00" / server_host,
            admin_name=admin,
            admin_dir=workspace / project / "prod_00" / admin,
            site_dirs={s.name: workspace / project / "prod_00" / s.name for s in sites},
            fl_port=fl_port,
            admin_port=admin_port,
        )
        _provision_into(staging, federation, sites, spec, review_window_h, server_components, extra_class_prefixes)
        _swap_in(staging, workspace)
    except BaseException:
        if made_dir:  # a failed first provisioning leaves nothing behind
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    write_text_atomic(out_dir / "project.yml", project_yml)
    write_text_atomic(out_dir / FEDERATION_FILE, json.dumps(federation.to_json(), indent=2))
    if existing is not None:
        log.warning("provision.replaced root=%s previous=%s", out_dir, existing)
    log.info("provision.done project=%s sites=%d root=%s", project, len(sites), out_dir)
    return federation


def _provision_into(
    staging: Path,
    federation: Federation,
    sites: Sequence[SiteKit],
    spec: dict[str, Any],
    review_window_h: float,
    server_components: Sequence[Mapping[str, Any]],
    extra_class_prefixes: Sequence[str],
) -> None:
    """Run NVFlare's provisioner into ``staging`` (a fresh workspace) and finish the kits for where they will lie
    once swapped in (``federation``'s folders)."""
    from nvflare.lighter.prov_utils import prepare_builders, prepare_packager
    from nvflare.lighter.provision import prepare_project
    from nvflare.lighter.provisioner import Provisioner

    run_spec = {**copy.deepcopy(spec), "gen_scripts": False}
    try:
        with contextlib.redirect_stdout(sys.stderr):  # NVFlare prints progress on stdout; keep --json output clean
            ctx = Provisioner(str(staging), prepare_builders(run_spec), prepare_packager(run_spec)).provision(
                prepare_project(run_spec)
            )
    except (ValueError, RuntimeError) as exc:
        raise ConfigError(f"project.yml: NVFlare provisioning refused it: {exc}") from exc
    if ctx is None or ctx.get("build_error"):
        raise ServiceError("NVFlare provisioning failed while assembling the startup kits")
    built = _latest_prod_dir(staging / federation.project)
    if built.name != federation.server_dir.parent.name:
        raise ServiceError(f"{built}: NVFlare wrote an unexpected prod folder into a fresh workspace")
    server_host = federation.server_name
    prefixes = (*FEDNODE_CLASS_PREFIXES, *extra_class_prefixes)
    _finish_server(built / server_host, review_window_h, server_components, prefixes, storage=federation.server_dir)
    coordinator_pub = load_or_create_site_key(built / server_host / COORDINATOR_KEY_DIR).public_pem
    pinned = built / server_host / SITE_KEYS_DIR
    for site in sites:
        _finish_site(built / site.name, site, prefixes)
        (built / site.name / "local" / COORDINATOR_PUBLIC_KEY).write_text(coordinator_pub, "ascii")
        if site.public_key is not None:
            pinned.mkdir(parents=True, exist_ok=True)
            (pinned / f"{site.name}.pub").write_text(site.public_key, "ascii")
            (built / site.name / "local" / SITE_PUBLIC_KEY).write_text(site.public_key, "ascii")


def _swap_in(staging: Path, workspace: Path) -> None:
    """Put the finished ``staging`` workspace where ``workspace`` is: two renames, the old one removed after."""
    old = workspace.with_name(f".{WORKSPACE}.{secrets.token_hex(6)}.old")
    if workspace.exists():
        workspace.rename(old)
    staging.rename(workspace)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def existing_federation(out_dir: Path) -> str | None:
    """What provisioning into ``out_dir`` again would replace, in words (root CA fingerprint, how many site kits,
    the coordinator's signing key); None when the folder holds no federation."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    fed_file, workspace = out_dir / FEDERATION_FILE, out_dir / WORKSPACE
    if not fed_file.is_file() and not workspace.exists():
        return None
    parts: list[str] = []
    server_dir: Path | None = None
    sites: int | None = None
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
        fed = Federation.from_json(json.loads(fed_file.read_text(encoding="utf-8")))
        server_dir, sites = fed.server_dir, len(fed.site_dirs)
    cas = [server_dir / "startup" / "rootCA.pem"] if server_dir else []
    cas += sorted(workspace.glob("*/prod_*/*/startup/rootCA.pem"))
    for ca in cas:
        with contextlib.suppress(OSError, ValueError):
            cert = x509.load_pem_x509_certificate(ca.read_bytes())
            parts.append(f"root CA sha256 {cert.fingerprint(hashes.SHA256()).hex()[:16]}")
            break
    if sites is None:
        sites = len({p.parent.parent.name for p in workspace.glob("*/prod_*/*/startup/fed_client.json")})
    parts.append(f"{sites} site kit{'s' if sites != 1 else ''}")
    if server_dir is not None:
        with contextlib.suppress(FednodeError, OSError, ValueError):
            parts.append(f"coordinator signing key {key_id(load_site_public_key(server_dir / COORDINATOR_KEY_DIR))}")
    return ", ".join(parts)


def _check_names(project: str, sites: Sequence[SiteKit]) -> None:
    if not _NAME_RE.match(project):
        raise ConfigError(f"project name {project!r}: use lower-case letters, digits and '-'")
    names = [s.name for s in sites]
    if not names:
        raise ConfigError("a federation needs at least one site")
    if len(set(names)) != len(names):
        raise ConfigError("site names must be unique")
    for site in sites:
        if not _NAME_RE.match(site.name):
            raise ConfigError(f"site name {site.name!r}: use lower-case letters, digits and '-'")
        if not _ORG_RE.match(site.org):
            raise ConfigError(f"site {site.name}: organisation {site.org!r}: use letters, digits and '_'")
        if site.public_key is not None:
            try:
                load_public_key(site.public_key)
            except FednodeError:
                raise ConfigError(f"site {site.name}: its public key is not an Ed25519 PEM public key") from None


def _latest_prod_dir(project_root: Path) -> Path:
    prods = sorted(project_root.glob("prod_*"), key=lambda p: int(p.name.split("_")[1]))
    if not prods:
        raise ServiceError(f"{project_root}: NVFlare wrote no prod_NN folder")
    return prods[-1]


def _read_default_resources(kit: Path) -> dict[str, Any]:
    local = kit / "local"
    for name in ("resources.json", "resources.json.default"):
        path = local / name
        if path.is_file():
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return data
    raise ServiceError(f"{local}: NVFlare wrote no resources.json.default")


def _allow_fednode(resources: dict[str, Any], prefixes: Sequence[str]) -> None:
    allow = list(resources.get("class_allow_list", []))
    allow += [p for p in prefixes if p not in allow]
    resources["class_allow_list"] = allow
    resources["class_list_enforcement_mode"] = "enforce"


def _merge_components(resources: dict[str, Any], components: Sequence[Mapping[str, Any]]) -> None:
    merged = {c["id"]: dict(c) for c in resources.get("components", [])}
    for comp in components:
        if "id" not in comp or "path" not in comp:
            raise ConfigError("a site component needs an 'id' and a 'path'")
        merged[str(comp["id"])] = dict(comp)
    resources["components"] = list(merged.values())


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def _finish_server(
    kit: Path,
    review_window_h: float,
    components: Sequence[Mapping[str, Any]],
    prefixes: Sequence[str],
    *,
    storage: Path | None = None,
) -> None:
    """Finish the coordinator's kit at ``kit``; its job and snapshot storage lie in ``storage`` (the kit's final
    place; default: ``kit``) ``/storage``."""
    resources = _read_default_resources(kit)
    _allow_fednode(resources, prefixes)
    storage = (storage or kit) / "storage"
    for comp in resources.get("components", []):
        if comp.get("id") == "job_scheduler":
            comp["args"] = scheduler_args(review_window_h)
        elif comp.get("id") == "job_manager":
            comp.setdefault("args", {})["uri_root"] = str(storage / "jobs")
    snapshot = resources.get("snapshot_persistor", {}).get("args", {}).get("storage", {}).get("args")
    if isinstance(snapshot, dict):
        snapshot["root_dir"] = str(storage / "snapshots")
    _merge_components(resources, components)
    _write_json(kit / "local" / "resources.json", resources)


def _finish_site(kit: Path, site: SiteKit, prefixes: Sequence[str]) -> None:
    resources = _read_default_resources(kit)
    for key, value in site.resources.items():
        if key != "components":
            resources[key] = value
    _allow_fednode(resources, prefixes)
    _merge_components(resources, [*site.resources.get("components", []), *site.components])
    local = kit / "local"
    _write_json(local / "resources.json", resources)
    for name, content in site.local_files.items():
        if "/" in name or name.startswith(".") or name == "resources.json":
            raise ConfigError(f"site {site.name}: refusing to write local file {name!r}")
        _write_json(local / name, content)
