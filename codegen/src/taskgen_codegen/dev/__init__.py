"""``taskgen dev`` and ``taskgen build --watch``: one command for working on a project locally.

It needs the ``[dev]`` extra of taskgen-codegen (a file watcher, an embedded valkey-server,
the dashboard's web server), imported only by these commands.
"""
