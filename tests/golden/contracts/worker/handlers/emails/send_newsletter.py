"""Handler of emails.send_newsletter.

Created once by `taskgen build`; this file is yours and is never overwritten.
"""

from __future__ import annotations

from shop_tasks.models import Sending, Template
from taskgen.runtime import ProgressContext


async def send_newsletter(
    ctx: ProgressContext[Sending],
    newsletter: str,
    template: Template = Template.WELCOME,
) -> int:
    """Send a newsletter to every subscriber; how many emails went out."""
    raise NotImplementedError("emails.send_newsletter is not implemented yet")
