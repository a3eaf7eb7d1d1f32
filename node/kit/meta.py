"""Job-meta keys written by one side of the federation and read by the other."""

from __future__ import annotations

RECEIPT_META_KEY = "fednode_approval"
"""The DXO meta entry (and ``FLModel.meta`` key at the coordinator) that carries a site's signed receipt."""

HEAD_META_KEY = "fednode_audit_head"
"""The DXO meta entry that carries the site's signed audit head (``policies.audit.SignedHead`` JSON) with each
result; the coordinator verifies it against the site's pinned key and keeps it (``node.coordinator.anchors``)."""

ANCHORS_META_KEY = "fednode_anchors"
"""The task's DXO meta entry (coordinator to sites) with the countersigned anchors: ``{site: anchor JSON}``, the
last head kept for each site (``policies.anchors.Anchor``); a site keeps its own and removes the entry."""

RESUME_META_KEY = "fednode_resume_of"
"""Job meta (top level, outside the app and its pinned fields) that ``fednode study resume`` adds to a resubmitted
job: the id of the study's first job. The coordinator continues from that job's checkpoint; a site carries over its
approval of that job when the app digest and pinned meta are unchanged (``node.site.resume``)."""
