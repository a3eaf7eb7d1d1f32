"""The dashboard program: ``python -m tui`` (what ``fednode dashboard`` starts).

This is the dashboard's own edge: it builds the settings once, opens the site desk and runs the app. The CLI
in ``node`` starts it as a separate program rather than importing it, so nothing imports ``tui``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fednode.errors import FednodeError
from fednode.settings import load_settings


def main() -> int:
    from node.site.desk import SiteDesk
    from tui.app import make_app

    settings = load_settings()
    agent = os.environ.get("SSH_AUTH_SOCK")  # the approver's forwarded SSH agent signs approvals (ssh -A)
    try:
        desk = SiteDesk.from_settings(  # creates nothing; an invalid policy still opens
            settings, read_only=True, agent_socket=Path(agent) if agent else None
        )
    except FednodeError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return int(exc.exit_code)
    try:
        make_app(settings, desk).run()
    finally:
        desk.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
