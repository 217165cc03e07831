"""Handlers of the emails tasks."""
