"""Who may change anything: the write opt-in, and a guard against cross-site form posts.

A mounted dashboard sits behind the host app's cookie authentication, so a page on another
site could make the browser post to it with those cookies. Every form carries a token that
only a page served by this dashboard can read, and a request the browser marks as coming
from another site is refused whatever it carries.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request

#: What a refused write says when the dashboard was built read-only.
READ_ONLY = (
    "this dashboard is read-only: requeue, purge and abort need "
    "dashboard(..., allow_writes=True) or `taskgen dashboard --allow-writes`, "
    "and the dashboard behind your own authentication"
)


class WriteGuard:
    """Decides whether a POST may act; ``token`` goes into every form the pages render."""

    def __init__(self, allow_writes: bool, secret: str | None = None) -> None:
        self.allow_writes = allow_writes
        self.token = secret or secrets.token_urlsafe(32)

    def refusal(self, request: Request, form_token: str) -> str | None:
        """Why this request may not write, or None when it may."""
        if not self.allow_writes:
            return READ_ONLY
        if request.headers.get("sec-fetch-site", "same-origin") not in {"same-origin", "none"}:
            return "refused: the form was posted from another site"
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
            return f"refused: the form was posted from {origin}, not from this dashboard"
        if not hmac.compare_digest(form_token.encode(), self.token.encode()):
            return "refused: the form's token is missing or stale; reload the page and try again"
        return None
