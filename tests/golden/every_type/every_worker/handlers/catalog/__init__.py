"""Handlers of the catalog tasks."""
