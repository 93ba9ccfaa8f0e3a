"""``client_for(rig)``: regkit's registry client for a rig, the one way tests build it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from regkit.dockerconfig import Credentials
from regkit.registry import RegistryClient

if TYPE_CHECKING:
    from typing import Unpack

    from regkit.registry.options import OptionsArgs

    from .cranereg import CraneRig
    from .shapes import Rig


def client_for(rig: Rig | CraneRig, **options: Unpack[OptionsArgs]) -> RegistryClient:
    """A ``RegistryClient`` for ``rig.host`` with the rig's credentials (none on a rig without
    any: crane's and the referrers registry) and its CA (on "tls"); ``options`` are
    ``RegistryClient``'s keywords (``jobs=4``, ``retry=RetryPolicy(attempts=1)``...) and win
    over those two. The caller closes it (``with client_for(rig) as client:``); the
    ``client_for`` fixture (tests/conftest.py) closes what it made at teardown."""
    if "credentials" not in options and rig.username and rig.password:
        options["credentials"] = Credentials(rig.username, rig.password)
    if "ca_file" not in options and rig.ca_file is not None:
        options["ca_file"] = str(rig.ca_file)
    return RegistryClient(rig.host, **options)
