"""Local files a prune reads (``--protect-file``, ``--protect-dir``) and the audit file it writes
(``--record``): every bad file is one error line, quickly, never a traceback or a MemoryError;
the audit file is never written through a symlink."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from regkit.errors import RegkitError, UsageError
from regkit.ops.prune import deploydir, protect
from tests.clirun import regkit

GOOD = "image:\n  tag: 1a2b3c4\n  digest: sha256:" + "a" * 64 + "\n"
BOMB = "\n".join(
    ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    + ["image: {tag: *a8}"]
)
DEEP_FLOW = "image: " + "[" * 20_000 + "]" * 20_000 + "\n"
DEEP_BLOCK = "- " * 20_000 + "x\n"
DEEP_MAP = "".join(" " * i + f"k{i}:\n" for i in range(40)) + " " * 40 + "tag: v1\n"


def _one_line(err: BaseException) -> str:
    message = str(err)
    assert message and "\n" not in message, repr(message)
    return message


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"image:\n  tag: \xff\xfe\n", "UTF-8"),
        (BOMB.encode(), "anchors and aliases"),
        (DEEP_FLOW.encode(), "nested deeper than 32"),
        (DEEP_BLOCK.encode(), "nested deeper than 32"),
        (DEEP_MAP.encode(), "nested deeper than 32"),
        (b"image:\n  tag: " + b"x" * (1 << 20) + b"\n", "larger than 1 MiB"),
    ],
    ids=["not-utf8", "alias-bomb", "deep-flow", "deep-block", "deep-map", "huge"],
)
def test_a_bad_protect_file_is_one_line(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "deploy-info.yml"
    path.write_bytes(content)
    started = time.monotonic()
    with pytest.raises(UsageError) as err:
        protect.load_protect_file(str(path))
    assert time.monotonic() - started < 5
    message = _one_line(err.value)
    assert str(path) in message and why in message, message


def test_the_protect_file_on_the_command_line_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "deploy-info.yml"
    bad.write_bytes(b"image:\n  tag: \xff\n")
    out = regkit(
        "prune", "localhost:1/app", "--protect-file", str(bad), "--dry-run",
        env={"REGISTRY_USERNAME": "u", "REGISTRY_PASSWORD": "p", "DOCKER_CONFIG": "/nonexistent"},
    )  # fmt: skip
    stderr = out.stderr.decode()
    assert out.returncode == 2, stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert stderr.startswith(f"regkit: error: cannot read protect file {bad}: not UTF-8")


def test_a_protect_file_that_never_ends_is_refused(tmp_path: Path) -> None:
    """/dev/zero (or a huge log passed by mistake) is read up to the cap, not to the end."""
    started = time.monotonic()
    with pytest.raises(UsageError, match="larger than 1 MiB"):
        protect.load_protect_file("/dev/zero")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"image:\n  tag: \xff\n", "UTF-8"),
        (BOMB.encode(), "anchors and aliases"),
        (DEEP_BLOCK.encode(), "nested deeper than 32"),
        (b"x" * ((1 << 20) + 1), "larger than 1 MiB"),
    ],
    ids=["not-utf8", "alias-bomb", "deep", "huge"],
)
def test_a_bad_deploy_dir_file_is_one_line(tmp_path: Path, content: bytes, why: str) -> None:
    app = tmp_path / "hello-world"
    app.mkdir()
    (app / "deploy-info.yml").write_text(GOOD)
    (app / "deploy-history.yml").write_bytes(content)
    started = time.monotonic()
    with pytest.raises(UsageError) as err:
        deploydir.deploy_dir_protection(tmp_path, "team/hello-world")
    assert time.monotonic() - started < 5
    message = _one_line(err.value)
    assert "deploy-history.yml" in message and why in message, message


def test_good_deploy_files_still_protect(tmp_path: Path) -> None:
    app = tmp_path / "hello-world"
    app.mkdir()
    (app / "deploy-info.yml").write_text(GOOD)
    (app / "deploy-history.yml").write_text("- " + GOOD.replace("\n", "\n  ").rstrip() + "\n")
    found = deploydir.deploy_dir_protection(tmp_path, "team/hello-world")
    assert found.tags == {"1a2b3c4"} and found.digests == {"sha256:" + "a" * 64}


def test_nesting_up_to_the_limit_is_fine() -> None:
    nested = "image: {tag: v1, x: " + "[" * 29 + "]" * 29 + "}\n"
    assert protect.parse_deploy_info(nested).tags == {"v1"}


# -- the audit file (--record) ---------------------------------------------------------------


def test_the_record_path_is_refused_when_it_is_a_symlink(tmp_path: Path) -> None:
    from regkit.ops import audit

    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    link = tmp_path / "prune.jsonl"
    link.symlink_to(target)
    with pytest.raises(RegkitError) as err:
        audit.check_record_path(str(link))
    message = _one_line(err.value)
    assert "symlink" in message and str(link) in message
    assert target.read_text() == "precious\n"


def test_a_dangling_symlink_does_not_create_its_target(tmp_path: Path) -> None:
    from regkit.ops import audit

    link = tmp_path / "prune.jsonl"
    link.symlink_to(tmp_path / "created-elsewhere")
    with pytest.raises(RegkitError) as err:
        audit.check_record_path(str(link))
    assert "symlink" in _one_line(err.value)
    with pytest.raises(RegkitError):
        audit.append_records(str(link), [{"event": "test"}])
    assert not (tmp_path / "created-elsewhere").exists()


def test_the_record_is_not_written_through_a_symlink_made_later(tmp_path: Path) -> None:
    """The check is not enough (the link can appear between check and write): the open itself
    refuses to follow a symlink at the last component."""
    from regkit.ops import audit

    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    link = tmp_path / "prune.jsonl"
    audit.check_record_path(str(link))
    link.symlink_to(target)
    with pytest.raises(RegkitError) as err:
        audit.append_records(str(link), [{"event": "test"}])
    assert "symlink" in _one_line(err.value)
    assert target.read_text() == "precious\n"


def test_the_record_still_appends_to_a_plain_file(tmp_path: Path) -> None:
    from regkit.ops import audit

    path = tmp_path / "prune.jsonl"
    audit.check_record_path(str(path))
    audit.append_records(str(path), [{"event": "one"}])
    audit.append_records(str(path), [{"event": "two"}])
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and '"one"' in lines[0] and '"two"' in lines[1]
    assert os.stat(path).st_mode & 0o027 == 0  # 0640 when created


# -- check --storage ---------------------------------------------------------------------------

HEX = "b" * 64


def _storage(tmp_path: Path) -> tuple[Path, Path]:
    """A filesystem-driver storage under tmp_path/storage and, next to it, a directory laid
    out like a repository that is not in it (what a ``..`` name or a symlink would reach)."""
    storage = tmp_path / "storage"
    repos = storage / "docker/registry/v2/repositories"
    (repos / "team/app/_manifests/revisions/sha256" / ("a" * 64)).mkdir(parents=True)
    (repos / "team/app/_manifests/revisions/sha256" / ("a" * 64) / "link").write_text("x")
    outside = tmp_path / "outside"
    (outside / "_manifests/revisions/sha256" / HEX).mkdir(parents=True)
    (outside / "_manifests/revisions/sha256" / HEX / "link").write_text("secret")
    return storage, outside


def test_storage_reads_stay_inside_the_storage(tmp_path: Path) -> None:
    from regkit.ops.check import stored_manifests

    storage, _outside = _storage(tmp_path)
    assert stored_manifests(storage, "team/app") == ["sha256:" + "a" * 64]
    for name in ("../../../../../outside", "team/../../../../../../outside", "/abs", "a//b"):
        with pytest.raises(RegkitError) as err:
            stored_manifests(storage, name)
        assert "invalid repository" in _one_line(err.value)


def test_a_symlink_out_of_the_storage_is_refused(tmp_path: Path) -> None:
    from regkit.ops.check import stored_manifests

    storage, outside = _storage(tmp_path)
    repos = storage / "docker/registry/v2/repositories"
    (repos / "team/evil").symlink_to(outside)
    (repos / "team/deep/_manifests").mkdir(parents=True)
    (repos / "team/deep/_manifests/revisions").symlink_to(outside / "_manifests/revisions")
    for name in ("team/evil", "team/deep"):
        with pytest.raises(RegkitError) as err:
            stored_manifests(storage, name)
        message = _one_line(err.value)
        assert "outside the storage" in message and name in message


def test_only_digest_shaped_entries_are_read(tmp_path: Path) -> None:
    """Directory names become digests in requests to the registry: only sha256:<64 hex>."""
    from regkit.ops.check import stored_manifests

    storage, _ = _storage(tmp_path)
    revisions = storage / "docker/registry/v2/repositories/team/app/_manifests/revisions"
    for odd in ("sha256/zz?x=1", "sha256/" + "A" * 64, "md5/" + "c" * 32, "sha256/" + "d" * 10):
        (revisions / odd).mkdir(parents=True)
        (revisions / odd / "link").write_text("x")
    assert stored_manifests(storage, "team/app") == ["sha256:" + "a" * 64]


def test_check_with_storage_refuses_a_catalog_name_that_climbs(tmp_path: Path) -> None:
    """A registry (or anything answering as one) lists ``../../outside``: one error line, and
    nothing from outside the storage is sent to it."""
    import json

    from tests.fakeserver import Seen, serve

    storage, _ = _storage(tmp_path)

    def route(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        if seen.path == "/v2/":
            return 200, {"Content-Type": "application/json"}, b"{}"
        if seen.path == "/v2/_catalog":
            body = {"repositories": ["../../../../../outside"]}
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()
        return 404, {"Content-Type": "application/json"}, b'{"errors": []}'

    with serve(route) as server:
        out = regkit("check", "--all-repos", server.host, "--storage", str(storage), timeout=60)
        sent = [s.path for s in server.seen]
    stderr = out.stderr.decode()
    assert out.returncode != 0 and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    assert not any(HEX in path for path in sent), sent


# -- SOPS files: the metadata's regex, flattened metadata, numbers ---------------------------


@pytest.fixture(scope="module")
def sops_key() -> object:
    from tests.sops_helpers import new_age_key

    return new_age_key()


def _sops_refuses(path: Path, key: object, *, within: float = 10) -> str:
    from regkit.sops import SopsError, decrypt_file, load_identities

    ids = load_identities({"SOPS_AGE_KEY": key.identity, "HOME": "/nonexistent"})  # type: ignore[attr-defined]
    started = time.monotonic()
    with pytest.raises(SopsError) as err:
        decrypt_file(path, ids)
    assert time.monotonic() - started < within
    return _one_line(err.value)


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        ("(", "missing )"),  # re.error before
        ("a{99999999999}", "too large"),  # OverflowError before
        ("^(a+)+$", "catastrophically"),  # hung on the key below before
    ],
)
def test_the_metadata_regex_is_guarded(
    tmp_path: Path, sops_key: object, rule: str, why: str
) -> None:
    import json

    from tests.sops_helpers import encrypt

    plain = json.dumps({"password": "hunter2", "a" * 40 + "!": "x"})
    path = encrypt(tmp_path, plain, "s.json", recipients=[sops_key.recipient])  # type: ignore[attr-defined]
    doc = json.loads(path.read_text())
    doc["sops"].pop("unencrypted_suffix", None)
    doc["sops"]["encrypted_regex"] = rule
    path.write_text(json.dumps(doc))
    message = _sops_refuses(path, sops_key, within=patterns_budget() + 5)
    assert "encrypted_regex" in message and why in message, message
    assert "hunter2" not in message


def patterns_budget() -> float:
    from regkit.patterns import MATCH_BUDGET

    return MATCH_BUDGET


@pytest.mark.parametrize("fmt", ["dotenv", "ini"])
def test_flattened_metadata_cannot_grow_without_bound(
    tmp_path: Path, sops_key: object, fmt: str
) -> None:
    """``sops_x__list_100000000`` made a list of 100 million entries (9 s, 800 MB) and a
    larger index a MemoryError; a key of 100,000 ``__map_`` parts nests as deep."""
    for flat in ("x__list_100000000", "a" + "__map_b" * 100_000):
        text = f"A=1\nsops_{flat}=1\n" if fmt == "dotenv" else f"[a]\nb=1\n[sops]\n{flat}=1\n"
        path = tmp_path / f"secrets.{'env' if fmt == 'dotenv' else 'ini'}"
        path.write_text(text)
        message = _sops_refuses(path, sops_key, within=3)
        assert "flattened sops metadata" in message, message


def test_a_huge_json_number_is_one_line(tmp_path: Path, sops_key: object) -> None:
    path = tmp_path / "secrets.json"
    path.write_text('{"a": ' + "9" * 5000 + ', "sops": {}}')
    assert "number" in _sops_refuses(path, sops_key)
