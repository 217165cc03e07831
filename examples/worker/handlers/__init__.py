"""Task handlers: one module per task."""
