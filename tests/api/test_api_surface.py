"""The public surface of ``regkit.api``, listed once (its ``__all__``) and guarded here, as
httpx's ``test_exported_members`` guards httpx's: every public name of the module is in
``__all__``, ``__all__`` is exactly this list, the package root re-exports exactly it (lazily),
and every public function and class says what it does."""

from __future__ import annotations
import __future__

import inspect
import pydoc
import subprocess
import sys
import types

import regkit
from regkit import api

PUBLIC = [
    "CheckReport",
    "Deletion",
    "GhcrPlan",
    "GhcrResult",
    "Inspection",
    "Overview",
    "PromotedTarget",
    "Promotion",
    "PrunePlan",
    "PruneReport",
    "PruneResult",
    "PrunedTag",
    "Registry",
    "SyncReport",
    "check",
    "connect",
    "delete",
    "execute_prune",
    "inspect",
    "overview",
    "plan_prune",
    "promote",
    "prune",
    "prune_ghcr",
    "sync",
]


def public_names(module: types.ModuleType) -> list[str]:
    """Names a reader of the module takes as public: not underscored, not a submodule, not the
    ``from __future__ import annotations`` marker."""
    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType | __future__._Feature)
    )


def test_api_all_is_the_public_surface() -> None:
    assert api.__all__ == PUBLIC
    assert public_names(api) == sorted(api.__all__)  # nothing public outside __all__
    for name in PUBLIC:
        assert getattr(api, name) is not None


def test_internal_helpers_are_not_public() -> None:
    for name in ("after_prune", "check_targets", "Executed", "ConnectOptions"):
        assert name not in api.__all__
    for fn in (api.check, api.prune, api.plan_prune, api.execute_prune):
        assert "tick" not in inspect.signature(fn).parameters, fn


def test_package_root_re_exports_api_all() -> None:
    assert regkit.__all__ == ["RegkitError", "__version__", *api.__all__]
    for name in api.__all__:
        assert getattr(regkit, name) is getattr(api, name)
    assert public_names(regkit) == ["RegkitError"]  # the rest comes from api, on first use


def test_root_stays_lazy_and_submodules_still_import() -> None:
    code = (
        "import sys, regkit; from regkit import cli, errors; "
        "assert 'regkit.api' not in sys.modules, 'api imported'; "
        "assert 'httpx' not in sys.modules, 'httpx imported'; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "ok\n", "")


def test_every_public_name_is_documented() -> None:
    for name in PUBLIC:
        doc = inspect.getdoc(getattr(api, name)) or ""
        assert len(doc) > 20, name


def test_help_is_short() -> None:
    # 1,469 lines before the surface was cut to __all__ (36 names, internal helpers and every
    # nested result type); about 1,060 after, nearly all of it the 14 result classes
    text = pydoc.plain(pydoc.render_doc(api))
    assert len(text.splitlines()) < 1150
