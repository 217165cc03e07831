"""Handler of emails.send_email."""

from __future__ import annotations

import logging
from typing import Annotated

from backend.deps import Settings, get_settings
from fastapi import Depends
from shop_tasks.models import Recipient, Template
from starlette.requests import HTTPConnection

from taskgen.runtime import Context

log = logging.getLogger("shop.emails")


async def send_email(
    ctx: Context,
    to: Recipient,
    template: Template,
    *,
    variables: dict[str, str] | None,
    cc: tuple[Recipient, ...],
    settings: Annotated[Settings, Depends(get_settings)],
    connection: HTTPConnection,
) -> None:
    """Render a template and send it (here: log it)."""
    log.info(
        "sending %s to %s (task %s, currency %s)",
        template.value,
        to.address,
        connection.headers["x-taskgen-task-id"],
        settings.currency,
    )
