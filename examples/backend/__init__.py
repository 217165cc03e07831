"""The shop's API: a FastAPI backend that enqueues through the generated client."""
