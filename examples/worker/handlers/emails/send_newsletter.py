"""Handler of emails.send_newsletter: reports typed progress as the emails go out."""

from __future__ import annotations

import logging
from typing import Annotated

from backend.deps import get_ledger
from backend.ledger import Ledger
from fastapi import Depends
from shop_tasks.models import Sending, Template

from taskgen.runtime import ProgressContext

log = logging.getLogger("shop.emails")


async def send_newsletter(
    ctx: ProgressContext[Sending],
    newsletter: str,
    template: Template,
    ledger: Annotated[Ledger, Depends(get_ledger)],
) -> int:
    """Send the newsletter to each subscriber (here: log it), reporting how far it got."""
    total = ledger.subscribers(newsletter)
    for sent in range(total):
        if sent % 100 == 0:
            ctx.progress(Sending(sent=sent, total=total))
    log.info("sent %s (%s) to %d subscribers", newsletter, template.value, total)
    ctx.progress(Sending(sent=total, total=total))
    return total
