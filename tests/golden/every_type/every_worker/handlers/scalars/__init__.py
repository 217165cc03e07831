"""Handlers of the scalars tasks."""
