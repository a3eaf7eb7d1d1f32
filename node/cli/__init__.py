"""The ``fednode`` command line. Each subcommand group lives in its own module and registers itself here."""

from node.cli.main import app, main

__all__ = ["app", "main"]
