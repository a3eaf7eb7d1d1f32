"""The site's side of anchoring its audit chain: the coordinator's countersignatures coming back with each task.

The coordinator keeps every signed audit head this site sends with its results and countersigns it
(:mod:`node.coordinator.anchors`); the next task's DXO meta carries the countersigned anchors under
:data:`node.kit.meta.ANCHORS_META_KEY` (``{site: anchor}``, the last head kept for each site). :class:`SiteAnchors`
takes that entry out of the task data before any executor or job code sees it, checks this site's anchor against
the coordinator key pinned in the startup kit (``local/coordinator.pub``; never a key the task carries) and this
site's own chain, and keeps it in state.db (:class:`policies.anchors.AnchorStore`).
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fednode.errors import FednodeError
from node.kit.layout import COORDINATOR_PUBLIC_KEY
from node.kit.meta import ANCHORS_META_KEY
from policies.anchors import Anchor, AnchorStore
from policies.keys import load_public_key

log = logging.getLogger("fednode.node.site.anchors")


class SiteAnchors:
    """Checks and keeps the coordinator's countersignatures of this site's audit heads."""

    def __init__(
        self,
        *,
        site: str,
        store: AnchorStore,
        site_key_id: str,
        coordinator_key: Ed25519PublicKey | None = None,
        local_dirs: tuple[Path, ...] = (),
    ) -> None:
        """``coordinator_key``: the pinned coordinator key; else read from ``coordinator.pub`` in the first of
        ``local_dirs`` (the kit's ``local/`` folders) that holds one, or the workspace's at :meth:`take`."""
        self.site = site
        self.store = store
        self._site_key_id = site_key_id
        self._coordinator_key = coordinator_key
        self._local_dirs = local_dirs

    def take(self, meta: MutableMapping[str, object], workspace_root: Path | None = None) -> Anchor | None:
        """Remove the anchors entry from a task's DXO ``meta`` and keep this site's anchor if it checks out.

        Returns the anchor kept (``None`` when there is none for this site, or it was not kept: logged)."""
        entry = meta.pop(ANCHORS_META_KEY, None)
        if entry is None:
            return None
        value = entry.get(self.site) if isinstance(entry, dict) else None
        if value is None:
            return None
        key = self._key(workspace_root)
        if key is None:
            log.warning("anchors.not_kept site=%s reason=no pinned coordinator key", self.site)
            return None
        try:
            anchor = Anchor.from_json(value)
            anchor.verify(key)
        except FednodeError as exc:
            log.warning("anchors.not_kept site=%s reason=%s", self.site, exc.message)
            return None
        head = anchor.head
        if head.site != self.site or head.key_id != self._site_key_id:
            log.warning("anchors.not_kept site=%s reason=the anchor is of another site or key", self.site)
            return None
        if self.store.save(anchor):
            log.info("anchors.kept seq=%d coordinator=%s", head.seq, anchor.coordinator_key_id)
        return anchor

    def _key(self, workspace_root: Path | None) -> Ed25519PublicKey | None:
        if self._coordinator_key is None:
            dirs = (*self._local_dirs, *((workspace_root / "local",) if workspace_root is not None else ()))
            for folder in dirs:
                path = folder / COORDINATOR_PUBLIC_KEY
                try:
                    self._coordinator_key = load_public_key(path.read_bytes())
                    break
                except (OSError, FednodeError):
                    continue
        return self._coordinator_key
