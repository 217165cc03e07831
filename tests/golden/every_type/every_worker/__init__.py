"""The worker of the every_type contract."""
