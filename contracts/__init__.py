"""The shop's task contracts: shared by the backend and the worker."""
