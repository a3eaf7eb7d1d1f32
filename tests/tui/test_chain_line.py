"""The Audit tab's chain line never says the signatures are valid when no signature covers anything (issue 14)."""

from __future__ import annotations

from node.site.desk import ChainCheck
from tui.widgets.audit_pane import chain_line


def test_unsigned_chain_is_not_called_verified() -> None:
    line = str(chain_line(ChainCheck(True, 5, signed_through=0)))
    assert "NOT SIGNED" in line
    assert "valid" not in line and "verified" not in line


def test_signed_chain_says_how_far_and_with_which_key() -> None:
    line = str(chain_line(ChainCheck(True, 5, signed_through=4)))
    assert line.startswith("chain verified: 5 records, signed through #4")
    assert "site key on this host" in line  # not the pinned key: `fednode audit verify --public-key` is


def test_broken_chain() -> None:
    assert str(chain_line(ChainCheck(False, 5, 3, "audit chain broken at record 3"))).startswith("CHAIN BROKEN")
