"""Recording a command's processing in the site's audit log (:mod:`node.site.processing`).

A command that writes patient data into the site (``etl``, ``deid run`` into the CDM, ``dq``, ``policy compile``)
first checks that this home holds a site to record it in (:func:`require_site`, exit 4 before any data is touched:
nothing is processed unrecorded); the others record where there is a site and say so loudly where there is not."""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from node.cli._context import CliContext
    from policies.audit import AuditEvent, AuditRecord

NOT_RECORDED = (
    "[yellow]Warning:[/yellow] not recorded: no site here (no state.db or site key in {home}); this processing "
    "is missing from the audit log. Run `fednode site init` first."
)


def operator_name() -> str:
    """The OS user running the command: the actor of its audit record."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (some containers)
        return "unknown"


def require_site(cli: CliContext) -> None:
    """Refuse (:class:`~fednode.errors.NotFoundError`, exit 4) where this home holds no site (no state.db or site
    key): its processing would go unrecorded. Creates nothing; call it after the inputs are checked."""
    from fednode.errors import NotFoundError
    from policies.state_db import open_state_db

    try:
        open_state_db(cli.settings, create=False, tolerate_invalid_policy=True).close()
    except NotFoundError:
        raise NotFoundError(
            f"{cli.settings.home}: this home holds no site: run `fednode site init` first (every load is recorded "
            "in the site's audit log; check FEDNODE_HOME)"
        ) from None


def record(cli: CliContext, event: AuditEvent, details: Mapping[str, Any]) -> AuditRecord | None:
    """Append the processing record; a loud warning on stderr (never stdout) when this home holds no site."""
    from node.site.processing import record_processing

    done = record_processing(cli.settings, event, details, actor=operator_name())
    if done is None:
        Console(stderr=True).print(NOT_RECORDED.format(home=cli.settings.home), highlight=False, soft_wrap=True)
    return done


__all__ = ["NOT_RECORDED", "operator_name", "record", "require_site"]
