"""Opening the site's state from a command: read-only commands create nothing and are never locked out by an
invalid site policy (they warn and go on); output files are checked before any work and written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from fednode.errors import BadInputError

if TYPE_CHECKING:
    from node.cli._context import CliContext
    from policies.state_db import StateDb


def open_read_only(cli: CliContext) -> StateDb:
    """state.db and the site key as they are (NotFoundError, exit 4, where this home holds no site); an invalid
    site policy is a warning on stderr, not a refusal."""
    from policies.state_db import open_state_db

    db = open_state_db(cli.settings, create=False, tolerate_invalid_policy=True)
    if db.policy_problem is not None:
        Console(stderr=True).print(
            f"[yellow]Warning:[/yellow] the site policy is invalid ({db.policy_problem}); shown without it "
            "(no budgets, no approvers). Fix it before approving or starting the site.",
            highlight=False,
        )
    return db


def check_output_file(path: Path, option: str) -> None:
    """Refuse an output file whose folder does not exist, or that is a folder (BadInputError naming the option)."""
    if path.is_dir():
        raise BadInputError("is a folder; give a file name", file=f"{option} {path}")
    if not path.parent.is_dir():
        raise BadInputError(f"folder {path.parent} does not exist", file=f"{option} {path}")


__all__ = ["check_output_file", "open_read_only"]
