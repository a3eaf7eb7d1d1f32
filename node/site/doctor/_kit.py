"""The site's startup kit: there, readable, its certificate issued by its root CA, for this site's name."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fednode.errors import FednodeError
from node.kit.doctor import (
    Check,
    ClientCredentials,
    KitCert,
    Target,
    check_certificate,
    failed,
    passed,
    skipped,
    warned,
)
from node.kit.layout import SITE_PUBLIC_KEY
from policies.keys import key_file, key_id, load_public_key, load_site_key, public_path_for

KIT_FILES = ("startup/fed_client.json", "startup/rootCA.pem", "startup/client.crt", "startup/client.key")
FETCH_KIT = (
    "put the startup kit `fednode provision` wrote for this site there (compose: FEDNODE_STARTUP_KIT, mounted as "
    "the startup_kit secret), or name it with --kit"
)


@dataclass(frozen=True)
class SiteKit:
    """What the doctor needs from a site's startup kit."""

    root: Path
    target: Target
    """The coordinator's FL port as ``fed_client.json`` names it."""
    identity: str
    """The site's name in ``fed_client.json`` (``client.fqsn``)."""

    @property
    def creds(self) -> ClientCredentials:
        startup = self.root / "startup"
        return ClientCredentials(ca=startup / "rootCA.pem", cert=startup / "client.crt", key=startup / "client.key")


def read_site_kit(kit: Path) -> tuple[Check, SiteKit | None]:
    """The ``kit`` check: the kit's files are there and ``fed_client.json`` names the coordinator."""
    if not kit.exists():
        return failed("kit", f"no startup kit at {kit}", FETCH_KIT), None
    if not kit.is_dir():
        return failed("kit", f"{kit} is a file, not a startup kit folder", FETCH_KIT), None
    missing = [name for name in KIT_FILES if not (kit / name).is_file()]
    if missing:
        return failed("kit", f"{kit}: not a site's startup kit (no {', '.join(missing)})", FETCH_KIT), None
    config = kit / "startup" / "fed_client.json"
    try:
        doc = json.loads(config.read_text(encoding="utf-8"))
        server = doc["servers"][0]
        target = Target.parse(str(server["service"]["target"]))
        identity = str(doc.get("client", {}).get("fqsn", ""))
    except OSError as exc:
        return failed("kit", f"{config}: cannot read it ({exc.strerror})", "give the site's user read access"), None
    except json.JSONDecodeError as exc:
        return failed("kit", f"{config}: not valid JSON (line {exc.lineno})", f"the kit is damaged: {FETCH_KIT}"), None
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return failed(
            "kit", f"{config}: no coordinator address (servers[0].service.target host:port) in it", FETCH_KIT
        ), None
    unreadable = [name for name in KIT_FILES if not _readable(kit / name)]
    if unreadable:
        return failed(
            "kit",
            f"{kit}: cannot read {', '.join(unreadable)} as this user",
            "give the site's user (uid 10001 in the image) read access to the kit's files",
        ), None
    measured = f"{kit}: coordinator {target}" + (f", site {identity}" if identity else "")
    return passed("kit", measured), SiteKit(kit, target, identity)


def _readable(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError:
        return False
    return True


def check_kit_certificate(kit: SiteKit, *, now: datetime) -> tuple[Check, KitCert | None]:
    """``kit.certificate``: the site's client certificate against the kit's root CA, and its days left."""
    creds = kit.creds
    return check_certificate("kit.certificate", creds.cert, creds.key, creds.ca, now=now)


def check_kit_name(cert: KitCert | None, site_name: str | None, *, source: str) -> Check:
    """``kit.name``: the certificate is for this site (its CN is the policy's ``site.name``)."""
    if cert is None:
        return failed("kit.name", "the kit's certificate could not be read", "see the kit.certificate check")
    cn = cert.common_name
    if site_name is None:
        return warned(
            "kit.name",
            f"the certificate is for {cn!r}; no site policy to compare with",
            "mount the site policy (FEDNODE_POLICY) so its site.name can be checked",
        )
    if cn != site_name:
        return failed(
            "kit.name",
            f"the certificate is for {cn!r}, but {source} names this site {site_name!r}",
            f"install the startup kit provisioned for {site_name!r}, or correct site.name in the site policy "
            "(the coordinator knows this site by its certificate's name)",
        )
    return passed("kit.name", f"the certificate is for {cn!r}, as {source} says")


def check_pinned_key(kit: SiteKit, key_path: Path) -> Check:
    """``kit.site-key``: the site key the kit pins (``local/site.pub``, ``fednode provision --site-key``) is the
    key this site signs with; otherwise the boot refuses to start (the coordinator would refuse every result)."""
    pinned = kit.root / "local" / SITE_PUBLIC_KEY
    if not pinned.is_file():
        return warned(
            "kit.site-key",
            "the kit pins no site key: the coordinator cannot anchor this site's audit heads",
            f"send the coordinator's operator this site's public key ({public_path_for(key_path).name}) for "
            "`fednode provision --site-key`",
        )
    try:
        pinned_id = key_id(load_public_key(pinned.read_bytes()))
    except (OSError, FednodeError):
        return failed("kit.site-key", f"{pinned}: not an Ed25519 PEM public key", f"the kit is damaged: {FETCH_KIT}")
    if not key_file(key_path).is_file():
        return skipped(
            "kit.site-key",
            f"the kit pins site key {pinned_id}; no site key at {key_path} yet (the boot installs the site_key "
            "secret, which must be that key)",
        )
    try:
        own = load_site_key(key_path).key_id
    except FednodeError as exc:
        return failed("kit.site-key", exc.message, "restore the site's signing key from the backup")
    if own != pinned_id:
        return failed(
            "kit.site-key",
            f"the kit pins site key {pinned_id}, but this site signs with {own}: the site will not start",
            "install the key that was pinned at provisioning (the site_key secret), or have the kit provisioned "
            "again with this site's .pub",
        )
    return passed("kit.site-key", f"the kit pins this site's signing key {own}")
