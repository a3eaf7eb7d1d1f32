"""`fednode experiment` commands: the paper's experiments (see the CLI contract in DESIGN.md)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
