"""The coordinator's book of each site's audit heads: verified against the pinned site key, kept, countersigned.

Every result (and the approval receipt in it) a site sends carries a signed head of that site's audit chain
(:class:`policies.audit.SignedHead`, DXO meta ``fednode_audit_head``). :meth:`AnchorBook.accept` verifies it
against the public key pinned for that site at provisioning (``local/fednode-site-keys/<site>.pub`` in the server
kit; never a key the site sends), checks it against the heads already kept for the site, keeps it
(``<workspace>/fednode-anchors/<site>.jsonl``, one countersigned anchor a line, kept across jobs) and returns the
coordinator's countersignature (:class:`policies.anchors.Anchor`), which the controller sends back with the next
task.

A tamper alarm (:class:`~fednode.errors.AuditChainError`) is raised, and the result refused, when a head

- forks: another hash at a seq already kept;
- goes backwards: a lower seq than a kept head but signed later (heads of concurrent jobs may arrive out of order,
  so a lower seq signed earlier is only late, not a rewrite);
- is not signed by the pinned key, or the site sends none although its key is pinned.

A site with no pinned key has nothing to check its heads against: its results pass unanchored (logged).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fednode.errors import AuditChainError, BadInputError, FednodeError
from node.kit.layout import SITE_KEYS_DIR
from policies.anchors import Anchor, countersign
from policies.audit import SignedHead
from policies.keys import SiteKey, load_public_key

log = logging.getLogger("fednode.node.coordinator.anchors")

ANCHORS_DIR = "fednode-anchors"
"""Inside the coordinator's workspace root: ``<site>.jsonl``, the countersigned heads kept per site."""
HEADS_FILE = "audit_heads.json"
"""Inside a job's run folder: the heads kept during that job, per site (``{"heads": {site: [anchor, ...]}}``)."""


def pinned_site_keys(root: Path) -> dict[str, Ed25519PublicKey]:
    """The site public keys pinned in the server kit at ``root`` (``local/fednode-site-keys/<site>.pub``)."""
    folder = root / SITE_KEYS_DIR
    keys: dict[str, Ed25519PublicKey] = {}
    for path in sorted(folder.glob("*.pub")) if folder.is_dir() else ():
        try:
            keys[path.stem] = load_public_key(path.read_bytes())
        except (OSError, FednodeError) as exc:  # a broken pin anchors nothing for that site, and says so
            log.error("anchors.pin_unreadable site=%s kind=%s", path.stem, type(exc).__name__)
    return keys


class AnchorBook:
    """Each site's kept heads, on disk under ``folder`` (one JSONL per site, appended under a file lock)."""

    def __init__(self, folder: Path, pinned: Mapping[str, Ed25519PublicKey], key: SiteKey) -> None:
        self.folder = folder
        self.pinned = dict(pinned)
        self._key = key

    def is_pinned(self, site: str) -> bool:
        return site in self.pinned

    def accept(self, site: str, value: object, *, now: datetime | None = None) -> Anchor | None:
        """Verify and keep ``site``'s head ``value`` (its JSON) and return the countersigned anchor.

        ``None`` when the site has no pinned key (nothing to anchor with). Raises :class:`AuditChainError` (the
        result must be refused) for a missing, malformed, unpinned-key, backwards or forked head.
        """
        public = self.pinned.get(site)
        if public is None:
            return None
        if value is None:
            raise AuditChainError(f"{site}: the result carries no signed audit head, but the site's key is pinned")
        try:
            head = SignedHead.from_json(value if isinstance(value, Mapping) else {})
        except BadInputError:
            raise AuditChainError(f"{site}: the result's signed audit head is malformed") from None
        if head.site != site:
            raise AuditChainError(f"{site}: the signed audit head names another site")
        head.verify(public)  # AuditChainError: another key, or a bad signature
        with self._locked(site):
            kept = self.heads(site)
            _check_against(site, head, kept)
            same = next((a for a in kept if a.head == head), None)
            if same is not None:
                return same
            at = (now or datetime.now(UTC)).isoformat(timespec="microseconds")
            anchor = countersign(head, self._key, at=at)
            with self._path(site).open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(anchor.to_json(), sort_keys=True) + "\n")
        log.info("anchors.kept site=%s seq=%d", site, head.seq)
        return anchor

    def heads(self, site: str) -> list[Anchor]:
        """The anchors kept for ``site``, in the order they were kept."""
        return read_anchors(self._path(site))

    def last(self, site: str) -> Anchor | None:
        """The kept anchor with the highest seq for ``site``."""
        kept = self.heads(site)
        return max(kept, key=lambda a: a.head.seq) if kept else None

    def _path(self, site: str) -> Path:
        if "/" in site or site.startswith("."):
            raise BadInputError(f"site name {site!r} cannot name an anchors file")
        return self.folder / f"{site}.jsonl"

    @contextlib.contextmanager
    def _locked(self, site: str) -> Iterator[None]:
        # several job processes of one coordinator may keep heads of one site at once
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / f".{site}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def read_anchors(path: Path) -> list[Anchor]:
    """The anchors in one kept-heads file (JSONL), in file order; none when it does not exist."""
    if not path.is_file():
        return []
    anchors: list[Anchor] = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read it ({type(exc).__name__})", file=str(path)) from None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            anchors.append(Anchor.from_json(json.loads(line)))
        except (ValueError, BadInputError):
            raise BadInputError(f"line {n}: not a kept audit anchor", file=str(path)) from None
    return anchors


def kept_anchors(roots: Sequence[Path], *, site: str | None = None) -> dict[str, list[Anchor]]:
    """Every site's kept anchors under the coordinator workspace roots ``roots`` (the first root holding a site's
    file wins), or only ``site``'s."""
    kept: dict[str, list[Anchor]] = {}
    for root in roots:
        folder = root / ANCHORS_DIR
        for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else ():
            if path.stem in kept or (site is not None and path.stem != site):
                continue
            anchors = read_anchors(path)
            if anchors:
                kept[path.stem] = anchors
    return kept


def _signed_at(site: str, head: SignedHead) -> datetime:
    try:
        at = datetime.fromisoformat(head.at)
    except ValueError:
        raise AuditChainError(f"{site}: the signed audit head's time is malformed") from None
    if at.tzinfo is None:
        raise AuditChainError(f"{site}: the signed audit head's time has no time zone")
    return at


def _check_against(site: str, head: SignedHead, kept: list[Anchor]) -> None:
    """Raise :class:`AuditChainError` when ``head`` forks from or goes behind the heads kept for ``site``."""
    at = _signed_at(site, head)
    for anchor in kept:
        old = anchor.head
        old_at = _signed_at(site, old)
        if (head.seq < old.seq and at > old_at) or (head.seq > old.seq and at < old_at):
            low, high = sorted((head.seq, old.seq))
            log.error("anchors.tamper_alarm site=%s seq=%d kept=%d kind=backwards", site, head.seq, old.seq)
            raise AuditChainError(
                f"{site}: tamper alarm: audit head {low} was signed after head {high} "
                "(the site's audit chain went backwards: truncated or rewritten)",
                first_bad_seq=low + 1,
            )
        if old.seq == head.seq and old.hash != head.hash:
            log.error("anchors.tamper_alarm site=%s seq=%d kind=fork", site, head.seq)
            raise AuditChainError(
                f"{site}: tamper alarm: audit head {head.seq} has another hash than the one kept "
                "(the site's audit chain was rewritten)",
                first_bad_seq=head.seq,
            )
