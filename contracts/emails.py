"""Sending emails to customers."""

import enum

import msgspec

from taskgen import task


class Template(enum.Enum):
    """Which email layout to render."""

    WELCOME = "welcome"
    RECEIPT = "receipt"
    PASSWORD_RESET = "password-reset"


class Recipient(msgspec.Struct, frozen=True):
    """Who an email goes to."""

    address: str
    name: str | None = None


@task(queue="emails")
def send_email(
    to: Recipient,
    template: Template,
    *,
    variables: dict[str, str] | None = None,
    cc: tuple[Recipient, ...] = (),
) -> None:
    """Render a template and send it."""
    ...


@task(queue="emails")
def count_subscribers(newsletter: str) -> int:
    """How many people subscribe to a newsletter."""
    ...


class Sending(msgspec.Struct, frozen=True):
    """How far a newsletter has gone out: the handler's typed progress reports."""

    sent: int
    total: int


@task(queue="emails", progress=Sending)
def send_newsletter(newsletter: str, template: Template = Template.WELCOME) -> int:
    """Send a newsletter to every subscriber; how many emails went out."""
    ...
