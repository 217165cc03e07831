"""One module per library, each speaking the same small command-line protocol (see common.py)."""
