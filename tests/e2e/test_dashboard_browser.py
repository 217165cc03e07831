"""The dashboard in a real browser (the OS's chromium) against a real worker process and Redis:
a queue drains on the page, a failed task is read, fixed and requeued, a running one aborted,
and a read-only dashboard offers no write and refuses a forged one."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Browser, Page, expect, sync_playwright

from taskgen.dashboard import dashboard
from taskgen.runtime.errors import TaskFailed
from taskgen.runtime.keys import QueueKeys
from taskgen.runtime.sync import SyncClient
from taskgen.runtime.wire import TaskStatus
from tests.browser import chromium_or_skip, served
from tests.fixtures.dash_tasks import HOLD, SHIP, HoldArgs, Order, ShipArgs
from tests.support import worker_process

TYPES = {SHIP.name: SHIP, HOLD.name: HOLD}
WORKER = "tests.fixtures.dash_tasks:worker"
#: Milliseconds a page may take to show what the server now holds (it polls every second).
SHOWN = 15_000
#: Where to write the screenshots docs/dashboard.md shows (unset: none are taken).
SHOTS = os.environ.get("TASKGEN_DASHBOARD_SHOTS")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium_or_skip()
    with sync_playwright() as playwright:
        # CI runs as root, where chromium's sandbox refuses to start, and containers often
        # have a small /dev/shm.
        launched = playwright.chromium.launch(
            executable_path=str(path), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    opened.on("dialog", lambda dialog: dialog.accept())  # the pages confirm() a purge or abort
    yield opened
    context.close()


@pytest.fixture
def client(redis_url: str) -> Iterator[SyncClient]:
    with SyncClient.from_url(redis_url) as opened:
        yield opened


def shot(page: Page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"dashboard-{name}.png"), full_page=True)


def figure(page: Page, queue: str, field: str) -> object:
    return page.locator(f'tr[data-queue="{queue}"] [data-field="{field}"]')


def test_drain_fail_requeue_and_abort_through_the_pages(
    page: Page, client: SyncClient, redis_url: str, tmp_path: Path
) -> None:
    flag = tmp_path / "packaging-restocked"
    orders = [ShipArgs(order=Order(order_id=f"o-{i}", cents=100 * i)) for i in range(40)]
    handles = [client.enqueue(SHIP, args) for args in orders]
    fragile = client.enqueue(
        SHIP, ShipArgs(order=Order(order_id="o-vase", cents=4999, fragile=True), express=True)
    )
    with served(dashboard(redis_url, tasks=TYPES, allow_writes=True)) as base:
        page.goto(base)
        expect(figure(page, "shipping", "ready")).to_have_text("41")
        shot(page, "queues-waiting")

        env = {**os.environ, "DASH_FLAG": str(flag)}
        with worker_process(redis_url, target=WORKER, env=env) as worker:
            # The count falls on the page without a reload, and the fragile order dies.
            expect(figure(page, "shipping", "ready")).to_have_text("0", timeout=SHOWN)
            expect(figure(page, "shipping", "dead")).to_have_text("1", timeout=SHOWN)
            assert all(h.result(timeout=10).startswith("shipped") for h in handles)
            expect(figure(page, "shipping", "completed")).to_contain_text("40 done")
            shot(page, "queues")

            # The dead letter, with its reason and its arguments decoded by the contract's types.
            page.get_by_role("link", name="shipping").click()
            letter = page.locator(f'tr:has(code:text("{fragile.id}"))')
            expect(letter.locator(".reason")).to_contain_text(
                "no fragile packaging left for order o-vase"
            )
            expect(letter.locator("pre")).to_contain_text('"order_id": "o-vase"')
            shot(page, "dead-letters")

            # Its page: the error and traceback, the typed arguments; fix the cause, requeue.
            letter.get_by_role("link", name="shop.ship").click()
            expect(page.locator("#status")).to_have_text("failed")
            expect(page.locator("#error")).to_contain_text("OutOfPackaging")
            expect(page.locator(".traceback")).to_contain_text("raise OutOfPackaging")
            expect(page.locator("#args")).to_contain_text('"fragile": true')
            expect(page.locator("#args")).to_contain_text('"express": true')
            expect(page.get_by_text("No contract types loaded")).to_have_count(0)
            shot(page, "task-failed")
            flag.touch()
            page.get_by_role("button", name="Requeue").click()
            expect(page.locator(".notice")).to_have_text("requeued 1 dead letter(s)")
            expect(page.locator("#status")).to_have_text("done", timeout=SHOWN)
            expect(page.locator("#result")).to_have_text('"shipped o-vase express"')
            assert client.handle(SHIP, fragile.id).result(timeout=10) == "shipped o-vase express"
            shot(page, "task-done")

            # The worker, holding a task: from its row to the task's page, and abort it there.
            held = client.enqueue(HOLD, HoldArgs(seconds=3600))
            page.get_by_role("link", name="Workers").click()
            row = page.locator("tr", has_text=f"{worker.pid}")
            expect(row).to_contain_text("shipping")
            holding = row.locator(f'a[href="/tasks/{held.id}"]')
            deadline = time.monotonic() + SHOWN / 1000
            while not holding.count():  # the record is rewritten with each lease renewal
                assert time.monotonic() < deadline, "the worker's record never showed the task"
                page.reload()
            shot(page, "workers")
            holding.click()
            expect(page.locator("#status")).to_have_text("running", timeout=SHOWN)
            expect(page.locator("#progress")).to_have_text("0.25 — packing", timeout=SHOWN)
            shot(page, "task-running")
            page.get_by_role("button", name="Abort").click()
            expect(page.locator(".notice")).to_have_text("abort requested")
            expect(page.locator("#status")).to_have_text("aborted", timeout=SHOWN)
            assert held.status() is TaskStatus.ABORTED


def test_a_read_only_dashboard_offers_no_writes_and_refuses_a_forged_one(
    page: Page, client: SyncClient, redis_url: str
) -> None:
    fragile = ShipArgs(order=Order(order_id="o-glass", cents=10, fragile=True))
    handle = client.enqueue(SHIP, fragile)
    env = {**os.environ, "DASH_FLAG": "/nonexistent/flag"}
    with (
        worker_process(redis_url, target=WORKER, env=env),
        pytest.raises(TaskFailed, match="no fragile packaging"),
    ):
        handle.result(timeout=10)
    running = client.enqueue(HOLD, HoldArgs(seconds=3600))  # queued: abortable, if allowed

    with served(dashboard(redis_url, tasks=TYPES)) as base:
        page.goto(f"{base}/queues/shipping")
        expect(page.locator(".reason")).to_contain_text("no fragile packaging left")
        expect(page.locator(".mode")).to_have_text("read-only")
        expect(page.locator("button", has_text=re.compile("Requeue|Purge"))).to_have_count(0)
        page.goto(f"{base}/tasks/{running.id}")
        expect(page.locator("#status")).to_have_text("queued")
        expect(page.get_by_role("button", name="Abort")).to_have_count(0)

        # A forged POST, from the page's own origin, still meets the read-only refusal.
        for path, form in [
            ("/queues/shipping/requeue", {"all": "1"}),
            ("/queues/shipping/purge", {"all": "1"}),
            (f"/tasks/{running.id}/abort", {"queue": "shipping", "task": HOLD.name}),
        ]:
            answer = page.request.post(f"{base}{path}", form=form)
            assert answer.status == 403
            assert "allow_writes=True" in answer.text() and "--allow-writes" in answer.text()

    assert running.status() is TaskStatus.QUEUED
    assert redis.Redis.from_url(redis_url).xlen(QueueKeys("shipping").dead) == 1
