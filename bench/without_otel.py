"""``python -m bench.without_otel <taskgen arguments>``: the taskgen command as if OpenTelemetry
were not installed (its imports fail, as they would), for the ``overhead`` workload."""

from __future__ import annotations

import sys

# A None entry makes ``import opentelemetry`` (and every submodule) raise ImportError.
sys.modules["opentelemetry"] = None  # type: ignore[assignment]

from taskgen.cli import main  # noqa: E402  (after hiding it, or redis-py imports it first)

if __name__ == "__main__":
    sys.argv[0] = "taskgen"
    main()
