"""``plan_login``: which host, username and password a login takes from the secrets document."""

from __future__ import annotations

import pytest

from regkit.errors import InvalidReferenceError, UsageError
from regkit.ops.login import (
    LoginPlanError,
    LoginTarget,
    normalise_host,
    plan_login,
    read_password_stdin,
)

PASSWORD = "s3cr3t-Pa55word-that-must-not-show"
USER = "ci-bot"


def _doc(**extra: object) -> dict[str, object]:
    data: dict[str, object] = {
        "base_domain": "example.test",
        "registry_username": USER,
        "registry_password": PASSWORD,
        "registry_http_secret": "http-secret-value",
        "ssh_keys": ["ssh-ed25519 AAAA one", "ssh-ed25519 AAAA two"],
    }
    data.update(extra)
    return data


def test_newer_layout_uses_registry_domain() -> None:
    target = plan_login(_doc(registry_domain="registry.team.test"))
    assert (target.host, target.username, target.password) == (
        "registry.team.test",
        USER,
        PASSWORD,
    )
    assert target.source == "key 'registry_domain'"
    assert (target.username_key, target.password_key) == ("registry_username", "registry_password")


def test_older_layout_derives_registry_from_base_domain() -> None:
    target = plan_login(_doc())
    assert target.host == "registry.example.test"
    assert "base_domain" in target.source
    assert "registry_domain" in target.source  # says which key it looked for first


def test_registry_override_beats_both() -> None:
    target = plan_login(_doc(registry_domain="registry.team.test"), "127.0.0.1:5001")
    assert target.host == "127.0.0.1:5001"
    assert target.source == "--registry"


@pytest.mark.parametrize(
    ("given", "host"),
    [
        ("https://registry.team.test/", "registry.team.test"),
        ("http://127.0.0.1:5000", "127.0.0.1:5000"),
        ("registry.team.test:8443", "registry.team.test:8443"),
        ("  registry.team.test  ", "registry.team.test"),
    ],
)
def test_registry_values_are_normalised_to_host_port(given: str, host: str) -> None:
    assert normalise_host(given) == host
    assert plan_login(_doc(registry_domain=given)).host == host
    assert plan_login(_doc(), given).host == host


def test_custom_key_names() -> None:
    data = {"u": "alice", "p": PASSWORD, "reg": "r.example.test", "base_domain": "ignored.test"}
    target = plan_login(data, None, "u", "p", "reg")
    assert (target.host, target.username, target.password) == ("r.example.test", "alice", PASSWORD)
    assert (target.username_key, target.password_key) == ("u", "p")


def test_custom_registry_key_absent_falls_back_to_base_domain() -> None:
    target = plan_login(_doc(), None, registry_key="my_registry")
    assert target.host == "registry.example.test"
    assert "my_registry" in target.source


def test_dotted_keys_walk_nested_maps() -> None:
    data = {"registry": {"username": "bob", "password": PASSWORD, "domain": "r.example.test"}}
    target = plan_login(data, None, "registry.username", "registry.password", "registry.domain")
    assert (target.host, target.username, target.password) == ("r.example.test", "bob", PASSWORD)


def test_sops_branch_shape_is_accepted() -> None:
    """The sops tree is an ordered list of (key, value) pairs, comments with non-str keys."""

    class Comment:
        pass

    data = [
        (Comment(), None),
        ("registry_username", USER),
        ("registry_password", PASSWORD),
        ("registry_domain", "registry.team.test"),
    ]
    target = plan_login(data)
    assert (target.host, target.username, target.password) == (
        "registry.team.test",
        USER,
        PASSWORD,
    )


def test_integer_password_is_taken_as_decimal_text() -> None:
    assert plan_login(_doc(registry_password=12345678)).password == "12345678"


def test_missing_password_names_the_key_and_lists_keys_not_values() -> None:
    data = _doc()
    del data["registry_password"]
    with pytest.raises(LoginPlanError) as info:
        plan_login(data)
    message = str(info.value)
    assert "'registry_password'" in message
    assert "--password-key" in message
    assert "registry_http_secret" in message  # the key names it does have
    assert "http-secret-value" not in message
    assert USER not in message


def test_missing_both_credentials_names_both_keys() -> None:
    with pytest.raises(LoginPlanError, match=r"no key 'u' and 'p'"):
        plan_login(_doc(), None, "u", "p")


def test_no_registry_anywhere_names_both_keys_and_the_way_out() -> None:
    data = _doc()
    del data["base_domain"]
    with pytest.raises(LoginPlanError) as info:
        plan_login(data)
    message = str(info.value)
    assert "'registry_domain' and 'base_domain'" in message
    assert "--registry HOST" in message


@pytest.mark.parametrize(
    ("value", "kind"),
    [(True, "a boolean"), (None, "nothing"), ({"a": "b"}, "a map"), (["x"], "a list")],
)
def test_wrong_type_names_the_key_not_the_value(value: object, kind: str) -> None:
    with pytest.raises(LoginPlanError) as info:
        plan_login(_doc(registry_password=value))
    assert "'registry_password'" in str(info.value)
    assert kind in str(info.value)


def test_empty_password_is_refused() -> None:
    with pytest.raises(LoginPlanError, match=r"'registry_password' .* is empty"):
        plan_login(_doc(registry_password=""))


def test_username_with_colon_is_refused_without_showing_it() -> None:
    with pytest.raises(LoginPlanError) as info:
        plan_login(_doc(registry_username="a:b-user"))
    assert "':'" in str(info.value)
    assert "a:b-user" not in str(info.value)


def test_invalid_registry_value_from_the_file_is_not_shown() -> None:
    """A registry key that points at a secret (a typo) must not print the secret."""
    with pytest.raises(LoginPlanError) as info:
        plan_login(_doc(other="p@ss w0rd!"), None, registry_key="other")
    assert "key 'other'" in str(info.value)
    assert "is not a registry host" in str(info.value)
    assert "p@ss" not in str(info.value)


def test_registry_key_pointing_at_the_password_is_refused() -> None:
    """The password here is also a valid host name: it must not become the host (and output)."""
    with pytest.raises(LoginPlanError) as info:
        plan_login(_doc(), None, registry_key="registry_password")
    assert "'registry_password'" in str(info.value)
    assert PASSWORD not in str(info.value)


def test_invalid_registry_override_is_a_usage_error() -> None:
    with pytest.raises(InvalidReferenceError, match="invalid registry host"):
        plan_login(_doc(), "not a host")


def test_not_a_map() -> None:
    with pytest.raises(LoginPlanError, match="not a map"):
        plan_login(["a", "b"])


def test_target_repr_hides_the_password() -> None:
    target = plan_login(_doc())
    for text in (repr(target), str(target), repr(target.credentials)):
        assert PASSWORD not in text
    assert isinstance(target, LoginTarget)
    assert target.secrets == [PASSWORD, target.credentials.basic_token()]


@pytest.mark.parametrize(
    ("stdin", "password"),
    [("pw\n", "pw"), ("pw\r\n", "pw"), ("pw", "pw"), ("p w \n", "p w "), ("pw\n\n", "pw\n")],
)
def test_password_stdin_strips_one_line_end_like_docker(stdin: str, password: str) -> None:
    assert read_password_stdin(stdin) == password


def test_password_stdin_empty() -> None:
    with pytest.raises(UsageError, match="nothing was read"):
        read_password_stdin("\n")
