"""The worker of the contracts contract."""
