"""Handlers of the containers tasks."""
