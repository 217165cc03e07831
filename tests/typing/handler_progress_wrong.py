"""Handlers that report progress of the wrong kind: every marked line must fail mypy --strict."""

from shop_tasks.models import Sending

from taskgen.runtime import Context, ProgressContext


async def typed(ctx: ProgressContext[Sending]) -> None:
    ctx.progress(Sending(sent=1, total=2))
    ctx.progress(0.5)  # E: Argument 1 to "progress" of "ProgressContext" has incompatible type "float"; expected "Sending"
    ctx.progress(Sending(sent=1, total=2), "half way")  # E: Too many arguments for "progress" of "ProgressContext"
    ctx.progress(Sending(sent="one", total=2))  # E: Argument "sent" to "Sending" has incompatible type "str"; expected "int"


async def untyped(ctx: Context) -> None:
    ctx.progress(0.5, "half way")
    ctx.progress(Sending(sent=1, total=2))  # E: Argument 1 to "progress" of "Context" has incompatible type "Sending"; expected "float"
