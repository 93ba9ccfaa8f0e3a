"""``regkit prune``: delete old tags without ever losing a tag that matters.

``plan`` decides (pure), ``fetch`` gathers what it needs, ``execute`` carries it out,
``protect`` reads deploy files, ``render`` prints plans and results.
"""

from regkit.ops.prune.execute import (
    Outcome,
    PruneInterrupted,
    PruneResult,
    execute_plan,
    remove_tag,
    throwaway_manifest,
)
from regkit.ops.prune.fetch import RepositoryState, fetch_repository
from regkit.ops.prune.plan import (
    DEFAULT_KEEP,
    DEFAULT_MATCH,
    DELETE_MANIFEST,
    KEEP,
    UNTAG,
    ImageRefs,
    PrunePlan,
    PrunePolicy,
    TagInfo,
    TagPlan,
    plan_prune,
)
from regkit.ops.prune.protect import Protection, load_protect_file, parse_deploy_info

__all__ = [
    "DEFAULT_KEEP",
    "DEFAULT_MATCH",
    "DELETE_MANIFEST",
    "KEEP",
    "UNTAG",
    "ImageRefs",
    "Outcome",
    "Protection",
    "PruneInterrupted",
    "PrunePlan",
    "PrunePolicy",
    "PruneResult",
    "RepositoryState",
    "TagInfo",
    "TagPlan",
    "execute_plan",
    "fetch_repository",
    "load_protect_file",
    "parse_deploy_info",
    "plan_prune",
    "remove_tag",
    "throwaway_manifest",
]
