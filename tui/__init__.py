"""The site dashboard: a Textual app over the services in ``policies`` and ``node``.

Build it with :func:`make_app` and a :class:`DashboardServices` implementation (``node.site.desk.SiteServices``).
"""

from tui.app import FednodeApp, make_app
from tui.services import DashboardServices

__all__ = ["DashboardServices", "FednodeApp", "make_app"]
