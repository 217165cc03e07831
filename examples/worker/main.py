"""The worker's entry point: `taskgen worker worker.main:worker` (see examples/README.md).

It runs the backend's own app lifespan once and resolves handlers' FastAPI dependencies
against that app, so handlers use the backend's dependencies unchanged.
"""

import os

from backend.app import app

from taskgen.fastapi import FastAPIDependencies
from taskgen.runtime import Worker
from worker.bindings import bindings

worker = Worker(
    bindings(),
    redis_url=os.environ.get("TASKGEN_REDIS_URL", "redis://localhost:6379/0"),
    concurrency=32,
    injector=FastAPIDependencies(app),
)
