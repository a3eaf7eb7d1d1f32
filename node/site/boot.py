"""What a site container does at boot, before FLARE starts: install its signing key, compile its policy.

:func:`prepare_site` is the whole sequence ``fednode site start`` runs before it hands over to FLARE. It stages
the read-only startup kit (:mod:`node.kit.runtime`) and calls the overlay returned by
:func:`policy_overlay` on the staged kit's ``local/`` folder. The overlay compiles the site policy with
:mod:`policies.compile` (``privacy.json``, ``authorization.json``, ``resources.json`` merged into NVFlare's
provisioned ``resources.json.default``), writes the files, and validates what was written by building every class
they name, as NVFlare would when the first job arrives. A broken policy therefore stops the container at boot with
a :class:`~fednode.errors.PolicyFileError` naming the file and the entry, never later with a half-configured site.

A site never runs without its approval gate: with no policy file the kit's own ``local/`` files must already
carry the gate (a kit compiled at provisioning); otherwise boot fails with a :class:`~fednode.errors.ConfigError`.

:func:`install_site_key` takes the site's Ed25519 key from the compose secret into the state volume, where the
approval service, the audit log and the dashboard read it (``policies.state_db.signing_key_path``).
:func:`install_totp_secrets` does the same for the approvers' TOTP secrets (a TOML file, ``name = "BASE32"``).
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fednode.errors import ConfigError, FednodeError, PolicyFileError
from fednode.settings import Settings
from node.kit.layout import SITE_PUBLIC_KEY
from node.kit.runtime import LocalOverlay, StagedKit, stage_kit
from node.site.processing import record_processing
from policies.audit import AuditEvent
from policies.keys import key_id as public_key_id
from policies.keys import load_public_key
from policies.policy_model import load_policy, policy_digest
from policies.state_db import init_site, load_site_policy, signing_key_path
from policies.totp import FileTotpVerifier

log = logging.getLogger("fednode.node.site.boot")

BASE_RESOURCES = "resources.json.default"
"""NVFlare's provisioned resources file; the compiled ``resources.json`` is merged into it (as the dashboard's
drift check and ``fednode policy compile`` do)."""
BOOT_ACTOR = "site-boot"
"""The actor of the audit records the boot writes (key created or installed, policy loaded and compiled)."""
GATE_CLASS = "node.site.gate.ApprovalGate"
VALIDATOR_CLASS = "node.site.gate.DigestValidator"


SECRETS = Path("/run/secrets")
"""Where compose mounts the site's secrets."""


def prepare_site(
    settings: Settings,
    *,
    kit: Path | None = None,
    site_key: Path = SECRETS / "site_key",
    totp_secrets: Path = SECRETS / "totp_secrets",
) -> StagedKit:
    """The site boot sequence: install the site key and the approvers' TOTP secrets, create state.db and the site
    key where missing (:func:`policies.state_db.init_site`, as ``fednode site init``; the health check and ``exec``
    commands read them before FLARE starts), then stage the startup kit (``kit``, else the
    ``startup_kit`` secret) with the compiled policy laid over its ``local/``. Returns the kit to run."""
    policy = load_site_policy(settings, required=False)
    installed = install_site_key(site_key, signing_key_path(settings, policy))
    totp_new = install_totp_secrets(totp_secrets, FileTotpVerifier(settings.totp_dir))
    # what `fednode site init` does: the boot is the other place state is made
    done = init_site(settings, policy, actor=BOOT_ACTOR)
    log.info("boot.site_state state_db_created=%s key_created=%s", done.state_db_created, done.key_created)
    if installed:
        record_processing(settings, AuditEvent.KEY_INSTALLED, {"key_id": done.key_id}, actor=BOOT_ACTOR)
    if totp_new:  # approvers' second factors from the compose secret (how many, never the secrets)
        details = {"factor": "totp", "installed": totp_new, "source": "secret"}
        record_processing(settings, AuditEvent.APPROVER_ENROLLED, details, actor=BOOT_ACTOR)
    if policy is not None:
        details = {"policy_digest": policy_digest(policy), "site": policy.site.name, "policy_version": policy.version}
        record_processing(settings, AuditEvent.POLICY_LOADED, details, actor=BOOT_ACTOR)
    source = kit or SECRETS / "startup_kit"
    require_pinned_identity(source / "local", done.key_id)
    staged = stage_kit(source, settings, overlay=policy_overlay(settings))
    log.info("boot.prepared site=%s", policy.site.name if policy is not None else settings.site_name)
    return staged


def require_pinned_identity(local: Path, key_id: str) -> None:
    """Refuse to start when the kit pins another site key (``local/site.pub``, from ``fednode provision
    --site-key``) than the one this site signs with: the coordinator would refuse every result's audit head."""
    pinned = local / SITE_PUBLIC_KEY
    if not pinned.is_file():
        return
    try:
        pinned_id = public_key_id(load_public_key(pinned.read_bytes()))
    except (OSError, FednodeError):
        raise ConfigError(f"{pinned}: the kit's pinned site key is not an Ed25519 PEM public key") from None
    if pinned_id != key_id:
        raise ConfigError(
            f"{pinned}: the kit pins site key {pinned_id}, but this site signs with {key_id}; install the key "
            "that was pinned at provisioning (the site_key secret), or provision again with this site's .pub"
        )


def policy_overlay(settings: Settings) -> LocalOverlay | None:
    """The overlay for the staged kit's ``local/``: compile and validate the site policy, or check the kit.

    Returns a callable; raising inside it (at staging) stops the boot with the error's exit code.
    """
    policy_path = settings.policy_path
    if policy_path.is_file():

        def overlay(local: Path) -> None:
            report = compile_policy_into(policy_path, local)
            details = {"policy_digest": policy_digest(load_policy(policy_path)), "classes_built": sum(report.values())}
            record_processing(settings, AuditEvent.POLICY_COMPILED, details, actor=BOOT_ACTOR)

        return overlay
    log.warning("site_boot.no_policy path=%s", policy_path)
    return require_gate


def compile_policy_into(policy_path: Path, local: Path) -> dict[str, int]:
    """Compile ``policy_path`` into ``local``; returns the classes built per file (the boot check)."""
    from policies.compile import compile_site, load_base_resources, validate_site_dir, write_site_files

    policy = load_policy(policy_path)
    files = compile_site(policy, base_resources=load_base_resources(local / BASE_RESOURCES))
    write_site_files(files, local)
    report = validate_site_dir(local)
    require_gate(local)
    log.info("site_boot.policy_compiled digest=%s classes_built=%d", policy_digest(policy)[:16], sum(report.values()))
    return report


def require_gate(local: Path) -> None:
    """Refuse a ``local/`` folder whose resources.json lacks the approval gate or the digest validator."""
    path = local / "resources.json"
    try:
        resources = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: missing; mount the site policy (FEDNODE_POLICY) so the approval gate is compiled in"
        ) from None
    except (OSError, ValueError) as exc:
        raise PolicyFileError(f"unreadable ({type(exc).__name__})", file=str(path)) from None
    components = resources.get("components", []) if isinstance(resources, dict) else []
    has_gate = any(isinstance(c, dict) and c.get("path") == GATE_CLASS for c in components)
    validator = resources.get("app_validator") if isinstance(resources, dict) else None
    has_validator = isinstance(validator, dict) and validator.get("path") == VALIDATOR_CLASS
    if not (has_gate and has_validator):
        raise ConfigError(
            f"{path}: no approval gate ({GATE_CLASS}) or digest validator; a site never runs jobs unreviewed. "
            "Mount the site policy (FEDNODE_POLICY) so it is compiled in at boot."
        )


def install_site_key(secret: Path, target: Path) -> bool:
    """Install the site's private key from ``secret`` at ``target`` (mode 0600); True when it was copied.

    An empty or absent secret leaves ``target`` alone (the site creates its own key on first use). A secret that
    differs from a key already installed is refused: the audit chain and the receipts were signed with that key,
    so replacing it is a deliberate rotation, not something a container restart may do silently.
    """
    if not secret.is_file():
        return False
    pem = secret.read_bytes()
    if not pem.strip():
        return False
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{secret}: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{secret}: the site key must be an Ed25519 key")
    if target.exists():
        if _public_raw(target) != _raw(key):
            raise ConfigError(
                f"{secret}: differs from the site key already in use ({target}); restore the original key or "
                "rotate it deliberately (move the old key aside, keep it to verify the existing audit chain)"
            )
        return False
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    log.info("site_boot.site_key_installed target=%s", target)
    return True


def install_totp_secrets(secret: Path, verifier: FileTotpVerifier) -> int:
    """Install approvers' TOTP secrets from ``secret`` (TOML: ``approver = "BASE32"``); returns how many were new.

    An absent or empty file installs nothing (approvers may enrol in the container instead). A malformed file or
    entry is a ConfigError naming the file and the approver, never the secret.
    """
    if not secret.is_file():
        return 0
    text = secret.read_text(encoding="utf-8")
    if not text.strip():
        return 0
    try:
        entries = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{secret}: not valid TOML ({exc.args[0].split('(')[0].strip()})") from None
    installed = 0
    for approver, value in entries.items():
        if not isinstance(value, str):
            raise ConfigError(f"{secret}: the entry for approver {approver!r} must be a base32 string")
        installed += verifier.install(approver, value)
    log.info("site_boot.totp_installed new=%d total=%d", installed, len(entries))
    return installed


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _public_raw(private_path: Path) -> bytes:
    try:
        key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        raise ConfigError(f"{private_path}: the installed site key cannot be read") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{private_path}: the installed site key is not an Ed25519 key")
    return _raw(key)


__all__ = [
    "compile_policy_into",
    "install_site_key",
    "install_totp_secrets",
    "policy_overlay",
    "require_gate",
    "require_pinned_identity",
]
