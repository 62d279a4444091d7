"""The district key: made with mode 0600, refused when others can read it, rotated in
two steps so that communes pinning both keys never stop verifying (DESIGN.md §4)."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from playout import DistrictKeys, KeyFileError, ManifestError, encode_public_key, sign, verify
from tests.cli import one_line_error, run_loa
from tests.manifests import audio_ref, item, manifest


def config_env(tmp_path: Path) -> dict[str, str]:
    return {"LOA_DATA_DIR": str(tmp_path / "var")}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_rotation_keeps_old_manifests_verifiable_by_agents_pinning_both(tmp_path: Path) -> None:
    keys = DistrictKeys(tmp_path)
    keys.init()
    document = manifest([item(audio_ref(b"tone"), datetime.now(UTC) + timedelta(minutes=5))])
    before = sign(document, keys.private_key())

    assert keys.prepare_rotation() and not keys.prepare_rotation()  # the second keeps it
    pinned = keys.public_keys()
    retired = keys.activate_rotation()
    after = sign(document, keys.private_key())

    now = datetime.now(UTC)
    assert len(pinned) == 2 and encode_public_key(pinned[0]) == retired
    for signed in (before, after):
        verify(signed, pinned, source="m", now=now)
    with pytest.raises(ManifestError, match="does not verify"):
        verify(after, pinned[:1], source="m", now=now)
    assert [encode_public_key(key) for key in keys.public_keys()] == [encode_public_key(pinned[1])]
    assert [encode_public_key(key) for key in keys.retired_public_keys()] == [retired]
    assert not keys.next_private_path.exists() and mode(keys.private_path) == 0o600


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    keys = DistrictKeys(tmp_path)
    keys.init()
    keys.private_path.chmod(0o644)

    with pytest.raises(KeyFileError, match=r"permissions 0644 are too open.*chmod 600"):
        keys.private_key()


def test_activating_without_a_prepared_key_changes_nothing(tmp_path: Path) -> None:
    keys = DistrictKeys(tmp_path)
    keys.init()
    current = keys.public_base64()

    with pytest.raises(KeyFileError, match=r"district\.next\.key: no such key"):
        keys.activate_rotation()
    assert keys.public_base64() == current and not keys.retired_path.exists()


def test_keys_rotate_cli_in_two_steps(tmp_path: Path) -> None:
    env = config_env(tmp_path)
    assert run_loa("keys", "init", env=env).returncode == 0
    old = run_loa("keys", "public", env=env).stdout.strip()

    prepared = run_loa("keys", "rotate", env=env)
    both = run_loa("keys", "public", "--all", env=env).stdout.split()
    activated = run_loa("keys", "rotate", "--activate", env=env)
    new = run_loa("keys", "public", env=env).stdout.strip()

    assert prepared.returncode == 0 and "loa keys rotate --activate" in prepared.stdout
    assert both[0] == old and len(both) == 2 and all(key in prepared.stdout for key in both)
    assert activated.returncode == 0 and "Đã chuyển sang khóa mới" in activated.stdout
    assert new == both[1] != old
    assert (tmp_path / "var" / "keys" / "retired.pub").read_text().split() == [old]


def test_keys_rotate_activate_without_prepare_exits_2(tmp_path: Path) -> None:
    env = config_env(tmp_path)
    run_loa("keys", "init", env=env)

    result = run_loa("keys", "rotate", "--activate", env=env)

    assert result.returncode == 2
    assert "district.next.key: no such key" in one_line_error(result)
