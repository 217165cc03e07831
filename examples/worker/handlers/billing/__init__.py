"""Handlers of the billing tasks."""
