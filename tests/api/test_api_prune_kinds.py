"""The API's prune entrances on a registry kind with plans of its own (GHCR): each one either
goes through that kind's backend or says which function does, before any request (issue 22:
nothing reaches a registry through a path that is not its kind's)."""

from __future__ import annotations

import socket
from typing import NoReturn

import pytest

from regkit import api
from regkit.errors import UsageError


@pytest.mark.parametrize("entrance", ["plan_prune", "execute_prune", "prune"])
def test_tag_plan_entrances_on_ghcr_point_to_prune_ghcr_before_any_request(
    entrance: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("REGISTRY_USERNAME", "REGISTRY_PASSWORD", "DOCKER_CONFIG", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    looked_up: list[str] = []  # no request may start, and none may leave the machine

    def no_network(host: object, *args: object, **kwargs: object) -> NoReturn:
        looked_up.append(str(host))
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    with api.connect("ghcr.io", username="u", password="p") as reg:
        call = {
            "plan_prune": lambda: api.plan_prune(reg, ["acme/app"], keep=2),
            "execute_prune": lambda: api.execute_prune(reg, []),
            "prune": lambda: api.prune(reg, ["acme/app"], keep=2),
        }[entrance]
        with pytest.raises(UsageError, match=r"use regkit\.api\.prune_ghcr"):
            call()
        assert looked_up == []
