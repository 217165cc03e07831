"""``python -m taskgen``: the command line."""

from taskgen.cli import main

main()
