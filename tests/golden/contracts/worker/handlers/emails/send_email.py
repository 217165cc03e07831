"""Handler of emails.send_email.

Created once by `taskgen build`; this file is yours and is never overwritten.
"""

from __future__ import annotations

from shop_tasks.models import Recipient, Template
from taskgen.runtime import Context


async def send_email(
    ctx: Context,
    to: Recipient,
    template: Template,
    *,
    variables: dict[str, str] | None = None,
    cc: tuple[Recipient, ...] = (),
) -> None:
    """Render a template and send it."""
    raise NotImplementedError("emails.send_email is not implemented yet")
