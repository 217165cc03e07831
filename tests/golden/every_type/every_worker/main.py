"""The worker's entry point: run it with `taskgen worker every_worker.main:worker`.

Created once by `taskgen build`; this file is yours and is never overwritten.
"""

import os

from taskgen.runtime import Worker

from every_worker.bindings import bindings

worker = Worker(
    bindings(),
    redis_url=os.environ.get("TASKGEN_REDIS_URL", "redis://localhost:6379/0"),
    concurrency=32,
)
