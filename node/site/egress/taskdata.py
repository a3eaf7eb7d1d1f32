"""A site task-data filter that makes NVFlare decode the global model in the job process.

In NVFlare 2.9's Client API ``external_process`` mode (how BYOC code runs confined here) the job process receives
the server's task in *pass-through*: its tensors arrive as ``LazyDownloadRef`` placeholders that the trainer
downloads itself (``ExternalProcessBackend`` registers the ``GET_TASK`` route for it). NVFlare materialises the
task data in the job process only when some task-data filter is configured (``nvflare.apis.utils.task_utils.
apply_filters``). This filter, listed in the site's ``privacy.json``, is that filter: it changes nothing, and its
presence means the egress guard sees the real global model at ``AFTER_TASK_DATA_FILTER`` (its schema, and the
reference a BYOC update is computed against). The result side is covered by
:meth:`node.site.egress.guard.EgressGuard.requires_materialized_task_result`.
"""

from __future__ import annotations

from nvflare.apis.filter import Filter
from nvflare.apis.fl_context import FLContext
from nvflare.apis.shareable import Shareable


class MaterializeTaskData(Filter):  # type: ignore[misc]  # nvflare is untyped
    """A no-op task-data filter whose presence makes the job process hold the decoded global model."""

    def process(self, shareable: Shareable, fl_ctx: FLContext) -> Shareable:
        return shareable
