"""The two-repo example, as deployed: the compose file's API and worker commands, run as real
processes (uvicorn, taskgen worker) against the real test Redis, driven over HTTP."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import yaml

from taskgen.runtime import Client, Context, TaskDef, TaskRejected
from tests.redis_server import free_port
from tests.support import REPO

EXAMPLES = REPO / "examples"
SERVICES = yaml.safe_load((EXAMPLES / "compose.yaml").read_text())["services"]
BIN = str(Path(sys.executable).parent)


@pytest.fixture(scope="module", autouse=True)
def example_imports() -> Iterator[None]:
    """The example's packages importable here too, to call its handlers directly."""
    paths = [str(EXAMPLES / "client"), str(EXAMPLES)]
    sys.path[:0] = paths
    forget_packages()  # other tests build packages of the same names
    yield
    for path in paths:
        sys.path.remove(path)
    forget_packages()


def forget_packages() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in ("shop_tasks", "worker", "backend"):
            del sys.modules[name]


@pytest.fixture
def url(redis_url: str) -> str:
    return redis_url.rsplit("/", 1)[0] + "/7"


def env(redis_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "TASKGEN_REDIS_URL": redis_url,
        "PYTHONPATH": "client",
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        **extra,
    }


@contextmanager
def service(name: str, environment: dict[str, str], ready: str | None = None) -> Iterator[None]:
    """One service of compose.yaml, started with exactly its command."""
    process = subprocess.Popen(
        SERVICES[name]["command"],
        cwd=EXAMPLES,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    try:
        if ready is not None:
            seen = []
            for line in process.stdout:
                seen.append(line)
                if ready in line:
                    break
            else:
                raise AssertionError(f"{name} did not start:\n{''.join(seen)}")
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


@contextmanager
def api(redis_url: str, **extra: str) -> Iterator[httpx.Client]:
    port = free_port()
    with (
        service(
            "api", env(redis_url, UVICORN_PORT=str(port), **extra), "Application startup complete"
        ),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http,
    ):
        yield http


def worker(redis_url: str) -> Any:
    return service("worker", env(redis_url))


def context(task: str) -> Context:
    return Context(
        task_id="direct",
        task=task,
        queue="direct",
        attempt=1,
        delivery=1,
        enqueued_at=0,
        state=None,
    )


INVOICE = {
    "id": "inv-9",
    "total": {"amount_cents": 4200, "currency": "USD"},
    "billing_address": {"line1": "1 Main St", "city": "Lyon", "country": "FR"},
}


async def test_responses_equal_calling_the_handlers_directly(url: str) -> None:
    from backend.ledger import Ledger
    from shop_tasks import Invoice, ShopTasks
    from worker.handlers.billing.charge import charge
    from worker.handlers.billing.refund import refund
    from worker.handlers.emails.count_subscribers import count_subscribers

    with api(url) as http, worker(url):
        charged = http.post("/charges", json={"invoice": INVOICE, "idempotency_key": "k9"})
        refunded = http.post(
            "/refunds",
            json={"charge_id": charged.json()["charge_id"], "amount": {"amount_cents": 100}},
        )
        counted = http.get("/newsletters/weekly/subscribers")

    async with ShopTasks.from_url(url) as tasks:
        receipt = await charge(
            context("billing.charge"),
            msgspec.convert(INVOICE, Invoice),
            idempotency_key="k9",
            session=Ledger().session(),
            tasks=tasks,
        )
    assert (charged.status_code, charged.json()) == (200, msgspec.to_builtins(receipt))
    direct = await refund(
        context("billing.refund"),
        receipt.charge_id,
        None,
        reason="requested",
        session=Ledger().session(),
    )
    assert (refunded.status_code, refunded.json()) == (
        200,
        {"charge_id": receipt.charge_id, "refunded": direct},
    )
    assert counted.json() == {
        "newsletter": "weekly",
        "subscribers": count_subscribers(
            context("emails.count_subscribers"), "weekly", ledger=Ledger()
        ),
    }


def test_a_failed_task_is_a_502_with_the_remote_error(url: str) -> None:
    with api(url) as http, worker(url):
        response = http.post("/refunds", json={"charge_id": "bogus"})
    assert response.status_code == 502
    body = response.json()
    assert (body["error"], body["type"], body["detail"]) == (
        "task_failed",
        "LookupError",
        "no charge 'bogus'",
    )


async def test_a_slow_task_is_a_202_to_follow_until_done(url: str) -> None:
    from shop_tasks.tasks import EMAILS_SEND_EMAIL

    with api(url, SHOP_RESULT_WAIT="0.2") as http:
        pending = http.get("/newsletters/daily/subscribers")  # no worker yet
        assert pending.status_code == 202 and pending.json()["status"] == "pending"
        poll = pending.json()["poll"]
        assert http.get(poll).json()["status"] == "queued"
        welcome = http.post("/welcome", json={"address": "new@example.com"})
        assert welcome.status_code == 202
        with worker(url):
            async with Client.from_url(url) as client:
                await client.handle(EMAILS_SEND_EMAIL, welcome.json()["task_id"]).result(20)
            done = http.get(welcome.json()["poll"])
            counted = http.get(poll)
    assert (done.status_code, done.json()["status"], done.json()["result"]) == (200, "done", None)
    assert counted.status_code == 200 and counted.json()["result"] >= 0


def test_a_newsletter_reports_typed_progress_through_the_api(url: str) -> None:
    from backend.ledger import Ledger

    total = Ledger().subscribers("weekly")
    with api(url) as http, worker(url):
        sent = http.post("/newsletters/weekly/send")
        assert sent.status_code == 202
        deadline = time.monotonic() + 20
        while (followed := http.get(sent.json()["poll"]).json())["status"] != "done":
            assert time.monotonic() < deadline, followed
            time.sleep(0.05)
    assert followed["progress"] == {"sent": total, "total": total}


async def test_a_rejected_payload_is_a_502_that_names_the_field(url: str) -> None:
    class DriftedRefund(msgspec.Struct, kw_only=True):
        charge_id: int  # the contract says str

    drifted = TaskDef[DriftedRefund, bool](
        name="billing.refund", queue="billing", fingerprint="old", args=DriftedRefund, result=bool
    )
    with api(url) as http, worker(url):
        # The registry would refuse it at the client; off, the worker rejects it.
        async with Client.from_url(url, registry="off") as client:
            handle = await client.enqueue(drifted, DriftedRefund(charge_id=7))
            with pytest.raises(TaskRejected):
                await handle.result(timeout=20)
        response = http.get(f"/tasks/billing.refund/{handle.id}")
    assert response.status_code == 502
    assert (
        response.json()["error"] == "task_rejected" and "$.charge_id" in response.json()["message"]
    )


def test_the_example_is_built_from_the_current_contracts() -> None:
    check = subprocess.run(
        [sys.executable, "-m", "taskgen", "build", "--root", "examples", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_example_backend_and_worker_pass_mypy_strict() -> None:
    typed = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "backend", "worker"],
        cwd=EXAMPLES,
        env={**os.environ, "MYPYPATH": "client"},
        capture_output=True,
        text=True,
    )
    assert typed.returncode == 0, typed.stdout
