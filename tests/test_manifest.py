"""Manifest signing and verification (DESIGN.md §4) and the district key files."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from playout import (
    DistrictKeys,
    KeyFileError,
    Manifest,
    ManifestError,
    ManifestItem,
    decode_public_key,
)
from playout._manifest import canonical_bytes, sign, verify

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 23, 5, 30, tzinfo=ZONE)


def make_manifest(sequence: int = 1042, **changes: object) -> Manifest:
    item = ManifestItem.model_validate(
        {
            "id": "bulletin-2026-11-23-morning-vi",
            "title": "Bản tin sáng 23/11",
            "kind": "bulletin",
            "priority": "normal",
            "language": "vi",
            "start": "2026-11-23T06:00:00+07:00",
            "not_after": "2026-11-23T07:00:00+07:00",
            "repeat": {"every_s": 7200, "until": "2026-11-24T06:00:00+07:00"},
            "clusters": ["*"],
            "audio": {
                "key": "audio/" + "9f" * 32 + ".mp3",
                "sha256": "9f" * 32,
                "bytes": 1843200,
                "duration_ms": 230400,
                "lufs": -16.0,
                "true_peak_dbtp": -1.6,
            },
        }
    )
    fields: dict[str, object] = {
        "district": "muong-te",
        "commune": "bum-nua",
        "sequence": sequence,
        "generated_at": NOW,
        "valid_until": NOW + timedelta(days=2),
        "items": [item],
    }
    fields.update(changes)
    return Manifest.model_validate(fields)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_signed_manifest_verifies_and_round_trips(key: Ed25519PrivateKey) -> None:
    data = sign(make_manifest(), key)
    manifest = verify(data, [key.public_key()], source="m.json", now=NOW)
    assert manifest.sequence == 1042
    assert manifest.items[0].title == "Bản tin sáng 23/11"
    document = json.loads(data)
    assert document["schema"] == "loa.manifest/1"
    assert "Bản tin" in data.decode("utf-8")  # UTF-8, not \u escapes


def test_signature_is_over_the_canonical_form_not_the_layout(key: Ed25519PrivateKey) -> None:
    document = json.loads(sign(make_manifest(), key))
    reordered = json.dumps(dict(reversed(list(document.items()))), indent=4).encode()
    assert verify(reordered, [key.public_key()], source="m.json", now=NOW).sequence == 1042


def test_canonical_form_sorts_keys_without_whitespace() -> None:
    assert canonical_bytes({"b": 1, "a": "Lũ"}) == '{"a":"Lũ","b":1}'.encode()


def test_tampered_field_is_refused(key: Ed25519PrivateKey) -> None:
    document = json.loads(sign(make_manifest(), key))
    document["items"][0]["title"] = "Lệnh sơ tán giả"
    with pytest.raises(ManifestError, match=r"m\.json: signature does not verify"):
        verify(json.dumps(document).encode(), [key.public_key()], source="m.json", now=NOW)


def test_other_key_is_refused_but_any_pinned_key_is_accepted(key: Ed25519PrivateKey) -> None:
    data = sign(make_manifest(), key)
    stranger = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(ManifestError, match="signature does not verify"):
        verify(data, [stranger], source="m.json", now=NOW)
    assert verify(data, [stranger, key.public_key()], source="m.json", now=NOW)


def test_unsigned_manifest_is_refused(key: Ed25519PrivateKey) -> None:
    document = json.loads(sign(make_manifest(), key))
    del document["signature"]
    with pytest.raises(ManifestError, match="no signature"):
        verify(json.dumps(document).encode(), [key.public_key()], source="m", now=NOW)


def test_replayed_older_sequence_is_refused(key: Ed25519PrivateKey) -> None:
    data = sign(make_manifest(sequence=41), key)
    with pytest.raises(ManifestError, match="sequence 41 is older than 42"):
        verify(data, [key.public_key()], source="m", now=NOW, last_sequence=42)


def test_expired_manifest_is_refused(key: Ed25519PrivateKey) -> None:
    data = sign(make_manifest(valid_until=NOW - timedelta(seconds=1)), key)
    with pytest.raises(ManifestError, match="expired"):
        verify(data, [key.public_key()], source="m", now=NOW)


def test_oversized_manifest_is_refused_before_parsing(key: Ed25519PrivateKey) -> None:
    with pytest.raises(ManifestError, match="over the"):
        verify(b" " * (5 * 1024 * 1024), [key.public_key()], source="m", now=NOW)


def test_nan_is_refused_as_not_json(key: Ed25519PrivateKey) -> None:
    document = json.loads(sign(make_manifest(), key))
    document["items"][0]["audio"]["lufs"] = float("nan")  # Python writes NaN; JSON has none

    with pytest.raises(ManifestError, match="NaN is not a JSON number"):
        verify(json.dumps(document).encode(), [key.public_key()], source="m", now=NOW)


def test_signed_but_malformed_item_is_refused(key: Ed25519PrivateKey) -> None:
    document = make_manifest().unsigned_document()
    document["items"][0]["priority"] = "urgent"
    signature = key.sign(canonical_bytes(document))
    document["signature"] = __import__("base64").b64encode(signature).decode()
    with pytest.raises(ManifestError, match=r"items\.0\.priority"):
        verify(json.dumps(document).encode(), [key.public_key()], source="m", now=NOW)


def test_occurrences_follow_repeat_until() -> None:
    item = make_manifest().items[0]
    starts = list(item.occurrences())
    assert starts[0] == datetime(2026, 11, 23, 6, tzinfo=ZONE)
    assert starts[-1] == datetime(2026, 11, 24, 6, tzinfo=ZONE)
    assert len(starts) == 13
    assert item.last_playable == datetime(2026, 11, 24, 7, tzinfo=ZONE).astimezone(UTC)


def test_keys_are_made_once_with_private_mode(tmp_path: Path) -> None:
    keys = DistrictKeys(tmp_path / "keys")
    assert keys.init() is True
    first = keys.public_base64()
    assert keys.init() is False
    assert keys.public_base64() == first
    assert stat.S_IMODE(keys.private_path.stat().st_mode) == 0o600
    assert keys.public_path.read_text().strip() == first
    message = b"sign me"
    decode_public_key(first).verify(keys.private_key().sign(message), message)


def test_missing_key_names_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(
        KeyFileError, match=r"district\.key: no such key; create one with `loa keys init`"
    ):
        DistrictKeys(tmp_path).private_key()
