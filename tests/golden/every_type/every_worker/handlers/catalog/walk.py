"""Handler of catalog.walk.

Created once by `taskgen build`; this file is yours and is never overwritten.
"""

from __future__ import annotations

from every_client.models import Folder, Polygon, TreeNode
from taskgen.runtime import Context


async def walk(
    ctx: Context,
    tree: TreeNode,
    root: Folder,
    polygon: Polygon,
) -> list[TreeNode]:
    """Recursive Structs."""
    raise NotImplementedError("catalog.walk is not implemented yet")
