"""``taskgen check``: the lock file, the compatibility rules, and where each finding points."""
