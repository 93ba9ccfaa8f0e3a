"""skopeo helper (implemented in ``rig.crane``)."""

from .crane import ToolError, require_skopeo, skopeo, skopeo_flags, skopeo_path

__all__ = ["ToolError", "require_skopeo", "skopeo", "skopeo_flags", "skopeo_path"]
