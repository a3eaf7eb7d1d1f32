"""The site dashboard: a Textual app over the desk in ``policies`` and ``node``.

Build it with :func:`make_app` and a :class:`SiteDeskProtocol` implementation (``node.site.desk.SiteDesk``).
"""

from tui.app import FednodeApp, make_app
from tui.desk import SiteDeskProtocol

__all__ = ["FednodeApp", "SiteDeskProtocol", "make_app"]
