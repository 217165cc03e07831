"""The shop's API. Run it with `uvicorn backend.app:app` (see examples/README.md)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypeVar

import msgspec
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from shop_tasks import Invoice, Money, Recipient, ShopTasks, Template

from backend.deps import get_settings
from backend.ledger import Ledger
from taskgen.fastapi import ClientProvider
from taskgen.runtime import (
    ResultTimeout,
    TaskAborted,
    TaskCaller,
    TaskExpired,
    TaskFailed,
    TaskHandle,
    TaskRejected,
    TaskTimedOut,
)

T = TypeVar("T")

provider = ClientProvider(lambda: ShopTasks.from_url(get_settings().redis_url))
Tasks = Annotated[ShopTasks, Depends(provider)]


class ChargeRequest(msgspec.Struct):
    invoice: Invoice
    idempotency_key: str


class RefundRequest(msgspec.Struct):
    charge_id: str
    amount: Money | None = None
    reason: str = "requested"


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's own resources; the worker runs this too, so handlers find them."""
    app.state.ledger = Ledger()
    yield


def create_app() -> FastAPI:
    """An app with its own taskgen client (app factories get one each)."""
    app = FastAPI(title="shop", lifespan=provider.around(lifespan))
    app.add_exception_handler(ResultTimeout, _pending)
    for error in (TaskFailed, TaskRejected, TaskAborted, TaskExpired):
        app.add_exception_handler(error, _task_error)

    @app.post("/charges")
    async def charge(request: Request, tasks: Tasks) -> Response:
        body = await _body(request, ChargeRequest)
        handle = await tasks.billing.charge(body.invoice, idempotency_key=body.idempotency_key)
        return _json(await handle.result(timeout=get_settings().result_wait))

    @app.post("/refunds")
    async def refund(request: Request, tasks: Tasks) -> Response:
        body = await _body(request, RefundRequest)
        handle = await tasks.billing.refund(body.charge_id, body.amount, reason=body.reason)
        refunded = await handle.result(timeout=get_settings().result_wait)
        return _json({"charge_id": body.charge_id, "refunded": refunded})

    @app.get("/newsletters/{name}/subscribers")
    async def subscribers(name: str, tasks: Tasks) -> Response:
        handle = await tasks.emails.count_subscribers(name)
        count = await handle.result(timeout=get_settings().result_wait)
        return _json({"newsletter": name, "subscribers": count})

    @app.post("/welcome", status_code=202)
    async def welcome(request: Request, tasks: Tasks) -> Response:
        recipient = await _body(request, Recipient)
        handle = await tasks.emails.send_email(recipient, Template.WELCOME)
        return _json({"task_id": handle.id, "poll": f"/tasks/emails.send_email/{handle.id}"}, 202)

    @app.post("/newsletters/{name}/send", status_code=202)
    async def send_newsletter(name: str, tasks: Tasks) -> Response:
        handle = await tasks.emails.send_newsletter(name)
        return _json({"task_id": handle.id, "poll": f"/newsletters/sending/{handle.id}"}, 202)

    @app.get("/newsletters/sending/{task_id}")
    async def sending(task_id: str, tasks: Tasks) -> Response:
        """How far a newsletter has gone out: the task's typed progress (a Sending, or None)."""
        handle = tasks.emails.send_newsletter.handle(task_id)
        status = await handle.status()
        return _json(
            {"task_id": task_id, "status": status.value, "progress": await handle.progress()}
        )

    @app.get("/tasks/{task}/{task_id}")
    async def follow(task: str, task_id: str, tasks: Tasks) -> Response:
        """Re-attach to a task by its id: its status, and its result once it has one."""
        handle = _handle(tasks, task, task_id)
        status = await handle.status()
        if not status.final:
            return _json({"task_id": task_id, "status": status.value}, 202)
        return _json(
            {"task_id": task_id, "status": status.value, "result": await handle.result(timeout=0.1)}
        )

    return app


def _handle(tasks: ShopTasks, task: str, task_id: str) -> TaskHandle[Any]:
    callers: dict[str, TaskCaller[Any, Any]] = {
        "billing.charge": tasks.billing.charge,
        "billing.refund": tasks.billing.refund,
        "emails.count_subscribers": tasks.emails.count_subscribers,
        "emails.send_email": tasks.emails.send_email,
    }
    caller = callers.get(task)
    if caller is None:
        raise HTTPException(404, f"no task {task!r}")
    handle: TaskHandle[Any] = caller.handle(task_id)
    return handle


async def _body(request: Request, kind: type[T]) -> T:
    """The JSON body, decoded and checked by msgspec into the contract's own types."""
    try:
        return msgspec.json.decode(await request.body(), type=kind)
    except msgspec.ValidationError as exc:
        raise HTTPException(422, str(exc)) from None


def _json(value: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(value), status, media_type="application/json")


async def _pending(request: Request, exc: Exception) -> Response:
    """Still running after the route's wait: 202, and where to follow it."""
    assert isinstance(exc, ResultTimeout)
    return _json(
        {"task_id": exc.task_id, "status": "pending", "poll": f"/tasks/{exc.task}/{exc.task_id}"},
        202,
    )


async def _task_error(request: Request, exc: Exception) -> Response:
    """A task that ended without a value: 502 when the worker failed it, 410 when dropped."""
    assert isinstance(exc, TaskFailed | TaskRejected | TaskAborted | TaskExpired)
    kind = {
        TaskTimedOut: "task_timed_out",
        TaskFailed: "task_failed",
        TaskRejected: "task_rejected",
        TaskAborted: "task_aborted",
        TaskExpired: "task_expired",
    }[type(exc)]
    body: dict[str, Any] = {
        "error": kind,
        "task": exc.task,
        "task_id": exc.task_id,
        "message": str(exc),
    }
    if isinstance(exc, TaskFailed):
        body |= {"type": exc.error_type, "detail": exc.error_message}
    status = 410 if isinstance(exc, TaskAborted | TaskExpired) else 502
    return _json(body, status)


app = create_app()
