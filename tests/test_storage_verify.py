"""``loa storage verify`` against a real SeaweedFS: every fault the issue lists (a manifest
edited in the bucket, an audio object swapped, an old manifest put back, …) is named."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from config import Settings, UserInputError
from playout import (
    AudioRef,
    BucketReport,
    DistrictKeys,
    Finding,
    ObjectStore,
    Problem,
    S3ObjectStore,
    Severity,
    UnknownCommuneError,
    inspect_bucket,
    manifest_key,
    sign,
)
from playout._manifest import canonical_bytes
from tests.cli import one_line_error, run_loa
from tests.manifests import DISTRICT, Bucket, item, manifest, tamper
from tests.test_storage_gc import cli_env

REGISTERED = ("bum-nua", "pa-u")
CLIP = b"clip one " * 200
OTHER_CLIP = b"clip two " * 300


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def bum_nua(object_store: S3ObjectStore, key: Ed25519PrivateKey) -> Bucket:
    return Bucket(object_store, key, "bum-nua")


@pytest.fixture
def pa_u(object_store: S3ObjectStore, key: Ed25519PrivateKey) -> Bucket:
    return Bucket(object_store, key, "pa-u")


def inspect(store: ObjectStore, key: Ed25519PrivateKey, **options: Any) -> BucketReport:
    arguments: dict[str, Any] = {
        "district_id": DISTRICT,
        "registered_communes": REGISTERED,
        "now": datetime.now(UTC),
    }
    return inspect_bucket(store, [key.public_key()], **(arguments | options))


def publish(bucket: Bucket, *clips: bytes, **changes: Any) -> list[AudioRef]:
    refs = [bucket.put_audio(clip) for clip in clips]
    start = datetime.now(UTC) + timedelta(hours=1)
    items = [item(ref, start, item_id=f"item-{index}") for index, ref in enumerate(refs)]
    bucket.publish(manifest(items, commune=bucket.commune).model_copy(update=changes))
    return refs


def findings(report: BucketReport) -> list[tuple[Finding, str]]:
    return [(problem.finding, problem.key) for problem in report.problems]


def only(report: BucketReport, finding: Finding) -> Problem:
    (problem,) = [p for p in report.problems if p.finding is finding]
    return problem


def test_a_clean_bucket_has_no_problem_at_all(
    object_store: S3ObjectStore, key: Ed25519PrivateKey, bum_nua: Bucket, pa_u: Bucket
) -> None:
    publish(bum_nua, CLIP, OTHER_CLIP)
    publish(pa_u, CLIP)

    report = inspect(object_store, key)

    assert report.problems == () and report.ok
    assert report.audio_checked == 2
    assert report.bytes_hashed == len(CLIP) + len(OTHER_CLIP)
    assert report.objects_listed == 4
    first = report.communes[0]
    assert (first.commune, first.present, first.signature_valid, first.schema_valid) == (
        "bum-nua", True, True, True,
    )  # fmt: skip
    assert (first.addressed_correctly, first.expired, first.items) == (True, False, 2)
    assert first.sequence == 1


def test_a_manifest_edited_in_the_bucket_fails_its_signature(
    object_store: S3ObjectStore, key: Ed25519PrivateKey, bum_nua: Bucket
) -> None:
    refs = publish(bum_nua, CLIP)
    signed = object_store.get_bytes(bum_nua.manifest_key, max_bytes=1 << 20)
    bum_nua.put_manifest_bytes(tamper(signed, title="Bản tin đã bị sửa"))

    report = inspect(object_store, key)

    problem = only(report, Finding.BAD_SIGNATURE)
    assert problem.severity is Severity.ERROR and not report.ok
    assert problem.key == "communes/bum-nua/manifest.json" and problem.communes == ("bum-nua",)
    assert "communes/bum-nua/manifest.json" in problem.message
    check = report.communes[0]
    assert (check.signature_valid, check.schema_valid) == (False, True)
    # What it names is still checked, and is not an orphan.
    assert report.audio_checked == 1 and refs[0].key not in {p.key for p in report.problems}


def test_a_manifest_signed_by_an_unknown_key_fails_its_signature(
    object_store: S3ObjectStore, key: Ed25519PrivateKey, bum_nua: Bucket
) -> None:
    refs = [bum_nua.put_audio(CLIP)]
    document = manifest([item(refs[0], datetime.now(UTC) + timedelta(hours=1))])
    bum_nua.publish(document, key=Ed25519PrivateKey.generate())

    report = inspect(object_store, key)

    assert findings(report) == [
        (Finding.BAD_SIGNATURE, manifest_key("bum-nua")),
        (Finding.NO_MANIFEST, manifest_key("pa-u")),
    ]
    assert report.communes[0].signature_valid is False


def test_a_signed_manifest_with_an_invalid_schema_is_named_as_such(
    object_store: S3ObjectStore, key: Ed25519PrivateKey, bum_nua: Bucket, pa_u: Bucket
) -> None:
    publish(pa_u, CLIP)
    publish(bum_nua, CLIP)
    document = json.loads(object_store.get_bytes(bum_nua.manifest_key, max_bytes=1 << 20))
    del document["signature"]
    document["sequence"] = 0
    document["signature"] = base64.b64encode(key.sign(canonical_bytes(document))).decode()
    bum_nua.put_manifest_bytes(json.dumps(document).encode())

    report = inspect(object_store, key)

    problem = only(report, Finding.BAD_SCHEMA)
    assert "sequence" in problem.message and problem.severity is Severity.ERROR
    check = report.communes[0]
    assert (check.signature_valid, check.schema_valid) == (True, False)
    assert Finding.ORPHAN_AUDIO not in {p.finding for p in report.problems}


def test_an_audio_object_swapped_for_bytes_of_the_same_size_fails_its_hash(
    object_store: S3ObjectStore, key: Ed25519PrivateKey, bum_nua: Bucket, pa_u: Bucket
) -> None:
    (ref,) = publish(bum_nua, CLIP)
    publish(pa_u, CLIP)
    forged = CLIP.replace(b"one", b"two")
    assert len(forged) == len(CLIP)
    object_store.put_bytes(ref.key, forged, "audio/mpeg")

    report = inspect(object_store, key)

    problem = only(report, Finding.HASH_MISMATCH)
    assert problem.key == ref.key and problem.severity is Severity.ERROR
    assert problem.communes == ("bum-nua", "pa-u")
    assert ref.sha256 in problem.message and "bum-nua item item-0" in problem.message
    assert not report.ok
    # Without hashing, the same-size swap goes unseen: the hash is what finds it.
    assert inspect(object_store, key, check_hashes=False).ok


def test_an_audio_object_swapped_for_other_bytes_is_named(
    object_store: S3ObjectStore, key: Ed25519PrivateKey, bum_nua: Bucket, pa_u: Bucket
) -> None:
    (ref,) = publish(bum_nua, CLIP)
    publish(pa_u, OTHER_CLIP)
    object_store.put_bytes(ref.key, b"something else entirely", "audio/mpeg")

    report = inspect(object_store, key)

    assert findings(report) == [(Finding.SIZE_MISMATCH, ref.key)]
    assert f"{len(CLIP)} declared by bum-nua item item-0" in report.problems[0].message
    assert report.bytes_hashed == len(OTHER_CLIP)  # the wrong-sized object is not read


def test_missing_audio_is_an_error(
    object_store: S3ObjectStore, key: Ed25519PrivateKey, bum_nua: Bucket, pa_u: Bucket
) -> None:
    (ref,) = publish(bum_nua, CLIP)
    publish(pa_u, OTHER_CLIP)
    object_store.delete(ref.key)

    report = inspect(object_store, key)

    assert findings(report) == [(Finding.MISSING_AUDIO, ref.key)]
    assert not report.ok and "bum-nua item item-0" in report.problems[0].message


def test_a_manifest_declaring_the_wrong_size_or_hash_is_named(
    object_store: S3ObjectStore, key: Ed25519PrivateKey, bum_nua: Bucket, pa_u: Bucket
) -> None:
    publish(pa_u, OTHER_CLIP)
    ref = bum_nua.put_audio(CLIP)
    start = datetime.now(UTC) + timedelta(hours=1)
    wrong_size = ref.model_copy(update={"bytes": ref.bytes + 1})
    wrong_hash = bum_nua.put_audio(OTHER_CLIP).model_copy(update={"sha256": "0" * 64})
    bum_nua.publish(manifest([item(wrong_size, start), item(wrong_hash, start, item_id="item-2")]))

    report = inspect(object_store, key)

    assert sorted(findings(report)) == sorted(
        [
            (Finding.SIZE_MISMATCH, ref.key),
            (Finding.KEY_MISMATCH, wrong_hash.key),
            (Finding.HASH_MISMATCH, wrong_hash.key),
        ]
    )
    size_message = only(report, Finding.SIZE_MISMATCH).message
    assert f"{ref.bytes} bytes in the bucket, {ref.bytes + 1} declared by bum-nua" in size_message
    assert "not 0000" in only(report, Finding.HASH_MISMATCH).message


def test_orphans_unregistered_communes_and_stray_keys_are_warnings(
    object_store: S3ObjectStore, key: Ed25519PrivateKey, bum_nua: Bucket, pa_u: Bucket
) -> None:
    publish(bum_nua, CLIP)
    publish(pa_u, CLIP)
    orphan = bum_nua.put_audio(b"nobody plays this" * 10)
    (stranger_clip,) = publish(Bucket(object_store, key, "xa-la"), OTHER_CLIP)
    object_store.put_bytes("communes/xa-la/status/heartbeat.json", b"{}", "application/json")
    strays = ["notes.txt", "audio/readme.txt", "communes/bum-nua/junk.bin", "communes/Bad/x"]
    for stray in strays:
        object_store.put_bytes(stray, b"?", "text/plain")
    receipt = "communes/bum-nua/asrun/2026-11-23/1795400000000-item-0.json"
    object_store.put_bytes(receipt, b"{}", "application/json")
    object_store.put_bytes("communes/bum-nua/status/heartbeat.json", b"{}", "application/json")

    report = inspect(object_store, key)

    assert report.ok and report.errors == ()
    assert all(problem.severity is Severity.WARNING for problem in report.problems)
    assert sorted(findings(report)) == sorted(
        [
            (Finding.ORPHAN_AUDIO, orphan.key),
            (Finding.UNREGISTERED_COMMUNE, "communes/xa-la/"),
            *[(Finding.UNKNOWN_KEY, stray) for stray in strays],
        ]
    )
    assert "2 object(s) of commune 'xa-la'" in only(report, Finding.UNREGISTERED_COMMUNE).message
    # The unregistered commune's manifest still keeps its audio from being an orphan.
    assert stranger_clip.key not in {problem.key for problem in report.problems}


def test_a_registered_commune_without_a_manifest_is_a_warning(
    object_store: S3ObjectStore, key: Ed25519PrivateKey, bum_nua: Bucket
) -> None:
    publish(bum_nua, CLIP)

    report = inspect(object_store, key)

    assert findings(report) == [(Finding.NO_MANIFEST, "communes/pa-u/manifest.json")]
    assert report.ok and report.communes[1].present is False


def test_an_expired_manifest_is_a_warning(
    object_store: S3ObjectStore, key: Ed25519PrivateKey, bum_nua: Bucket, pa_u: Bucket
) -> None:
    publish(pa_u, CLIP)
    publish(bum_nua, OTHER_CLIP, valid_until=datetime.now(UTC) - timedelta(minutes=1))

    report = inspect(object_store, key)

    assert findings(report) == [(Finding.EXPIRED, "communes/bum-nua/manifest.json")]
    assert report.communes[0].expired is True and report.ok


def test_an_old_manifest_put_back_is_named_by_its_signing_time(
    object_store: S3ObjectStore, key: Ed25519PrivateKey, bum_nua: Bucket, pa_u: Bucket
) -> None:
    publish(pa_u, CLIP)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    publish(bum_nua, CLIP, generated_at=an_hour_ago)

    report = inspect(object_store, key)

    problem = only(report, Finding.REPLAYED)
    assert problem.key == "communes/bum-nua/manifest.json" and not report.ok
    assert "put back" in problem.message


def test_an_old_manifest_put_back_is_named_by_the_agents_heartbeat(
    object_store: S3ObjectStore, key: Ed25519PrivateKey, bum_nua: Bucket, pa_u: Bucket
) -> None:
    publish(pa_u, CLIP)
    publish(bum_nua, CLIP, sequence=41)
    held = {"commune": "bum-nua", "manifest": {"sequence": 42}}
    object_store.put_bytes(
        "communes/bum-nua/status/heartbeat.json", json.dumps(held).encode(), "application/json"
    )

    report = inspect(object_store, key)

    problem = only(report, Finding.REPLAYED)
    assert "sequence 41 is older than sequence 42" in problem.message
    assert report.communes[0].agent_sequence == 42

    object_store.put_bytes("communes/bum-nua/status/heartbeat.json", b"{", "application/json")
    assert findings(inspect(object_store, key)) == [
        (Finding.UNREADABLE_HEARTBEAT, "communes/bum-nua/status/heartbeat.json")
    ]


def test_a_manifest_for_another_commune_is_named(
    object_store: S3ObjectStore, key: Ed25519PrivateKey, bum_nua: Bucket, pa_u: Bucket
) -> None:
    publish(pa_u, CLIP)
    ref = bum_nua.put_audio(CLIP)
    document = manifest([item(ref, datetime.now(UTC) + timedelta(hours=1))], commune="pa-u")
    bum_nua.put_manifest_bytes(sign(document, key))

    report = inspect(object_store, key)

    assert findings(report) == [(Finding.WRONG_ADDRESS, "communes/bum-nua/manifest.json")]
    assert report.communes[0].addressed_correctly is False


def test_an_unreadable_manifest_is_an_error_and_stops_the_orphan_scan(
    object_store: S3ObjectStore, key: Ed25519PrivateKey, bum_nua: Bucket, pa_u: Bucket
) -> None:
    publish(bum_nua, CLIP)
    pa_u.put_audio(OTHER_CLIP)
    pa_u.put_manifest_bytes(b"\x00garbage")

    report = inspect(object_store, key)

    assert findings(report) == [(Finding.UNREADABLE_MANIFEST, "communes/pa-u/manifest.json")]
    assert "gc deletes nothing" in report.problems[0].message


def test_a_manifest_with_a_number_json_cannot_carry_is_a_finding_not_a_crash(
    object_store: S3ObjectStore, key: Ed25519PrivateKey, bum_nua: Bucket, pa_u: Bucket
) -> None:
    publish(pa_u, CLIP)
    publish(bum_nua, CLIP)
    signed = object_store.get_bytes(bum_nua.manifest_key, max_bytes=1 << 20)
    document = json.loads(signed)
    document["items"][0]["audio"]["lufs"] = float("nan")
    bum_nua.put_manifest_bytes(json.dumps(document).encode())  # writes NaN, as Python allows

    report = inspect(object_store, key)

    assert findings(report) == [(Finding.BAD_SIGNATURE, "communes/bum-nua/manifest.json")]


def test_one_commune_is_checked_alone(
    object_store: S3ObjectStore, key: Ed25519PrivateKey, bum_nua: Bucket, pa_u: Bucket
) -> None:
    publish(bum_nua, CLIP)
    (other,) = publish(pa_u, OTHER_CLIP)
    object_store.delete(other.key)
    bum_nua.put_audio(b"orphan" * 10)

    report = inspect(object_store, key, commune="bum-nua")

    assert report.ok and report.problems == ()
    assert [check.commune for check in report.communes] == ["bum-nua"]
    assert (report.scope, report.audio_checked, report.objects_listed) == ("bum-nua", 1, None)
    assert findings(inspect(object_store, key, commune="pa-u")) == [
        (Finding.MISSING_AUDIO, other.key)
    ]


def test_a_commune_outside_the_registry_is_bad_input(
    object_store: S3ObjectStore, key: Ed25519PrivateKey
) -> None:
    with pytest.raises(UnknownCommuneError, match="'xa-la'"):
        inspect(object_store, key, commune="xa-la")
    with pytest.raises(UserInputError, match=r"'\.\./pa-u'"):
        inspect(object_store, key, commune="../pa-u")


def test_the_report_document_is_json(
    object_store: S3ObjectStore, key: Ed25519PrivateKey, bum_nua: Bucket
) -> None:
    publish(bum_nua, CLIP)
    document = json.loads(json.dumps(inspect(object_store, key).document()))
    assert document["ok"] is True and document["warnings"] == 1 and document["errors"] == 0
    assert document["problems"][0] == {
        "severity": "warning",
        "finding": "no-manifest",
        "key": "communes/pa-u/manifest.json",
        "communes": ["pa-u"],
        "message": "communes/pa-u/manifest.json: no manifest",
    }
    assert document["communes"][0]["signature_valid"] is True
    assert document["audio"] == {"checked": 1, "bytes_hashed": len(CLIP)}


# --- the command line --------------------------------------------------------------------


@pytest.fixture
def district(seaweed_settings: Settings, object_store: S3ObjectStore) -> Bucket:
    """The district's own key (under the data dir) over the test bucket, for ``loa``."""
    keys = DistrictKeys(seaweed_settings.key_dir)
    keys.init()
    return Bucket(object_store, keys.private_key(), "bum-nua")


def test_loa_storage_verify_exits_0_on_a_clean_bucket(
    seaweed_settings: Settings, district: Bucket, tmp_path: Path
) -> None:
    publish(district, CLIP)

    result = run_loa("storage", "verify", "--json", env=cli_env(seaweed_settings), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["bucket"] == seaweed_settings.storage.bucket
    assert document["ok"] is True and document["errors"] == 0
    registry = seaweed_settings.organisation.commune_ids()
    assert [check["commune"] for check in document["communes"]] == registry
    assert document["warnings"] == len(registry) - 1  # every other commune has no manifest
    assert {problem["finding"] for problem in document["problems"]} == {"no-manifest"}


def test_loa_storage_verify_exits_1_on_a_tampered_bucket_in_vietnamese(
    seaweed_settings: Settings, district: Bucket, tmp_path: Path
) -> None:
    (ref,) = publish(district, CLIP)
    district.store.put_bytes(ref.key, CLIP.replace(b"one", b"two"), "audio/mpeg")
    signed = district.store.get_bytes(district.manifest_key, max_bytes=1 << 20)
    district.put_manifest_bytes(tamper(signed, priority="emergency"))
    env = cli_env(seaweed_settings)

    as_json = run_loa("storage", "verify", "--json", env=env, cwd=tmp_path)
    assert as_json.returncode == 1, as_json.stderr
    found = {problem["finding"] for problem in json.loads(as_json.stdout)["problems"]}
    assert {"bad-signature", "hash-mismatch"} <= found

    human = run_loa("storage", "verify", "--commune", "bum-nua", env=env, cwd=tmp_path)
    assert human.returncode == 1
    for words in ("chữ ký không hợp lệ", "sai mã băm", "KHÔNG hợp lệ", "Có 2 lỗi", ref.key):
        assert words in human.stdout, human.stdout


def test_loa_storage_verify_refuses_a_commune_outside_the_registry(
    seaweed_settings: Settings, district: Bucket, tmp_path: Path
) -> None:
    env = cli_env(seaweed_settings)
    for commune in ("xa-la", "Pa/U"):
        result = run_loa("storage", "verify", "--commune", commune, env=env, cwd=tmp_path)
        assert result.returncode == 2
        assert repr(commune) in one_line_error(result)
