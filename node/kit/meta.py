"""Job-meta keys written by one side of the federation and read by the other."""

from __future__ import annotations

RECEIPT_META_KEY = "fednode_approval"
"""The DXO meta entry (and ``FLModel.meta`` key at the coordinator) that carries a site's signed receipt."""
