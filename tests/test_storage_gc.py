"""Retention against a real SeaweedFS: ``collect_garbage`` deletes only audio that no
manifest has named for the configured time; ``prune_receipts`` only old as-run receipts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from config import Settings
from playout import (
    GcReport,
    GcStateError,
    ObjectInfo,
    ObjectStore,
    S3ObjectStore,
    collect_garbage,
    manifest_key,
    prune_receipts,
    storage_credentials,
)
from tests.cli import one_line_error, run_loa
from tests.conftest import SeaweedSession
from tests.manifests import Bucket, item, manifest

WEEK = timedelta(days=7)
HEARTBEAT = "communes/bum-nua/status/heartbeat.json"
OLD_RECEIPT = "communes/bum-nua/asrun/2020-01-01/1577836800000-bulletin-1.json"


@pytest.fixture
def bucket(object_store: S3ObjectStore) -> Bucket:
    return Bucket(object_store, Ed25519PrivateKey.generate())


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "storage-gc.json"


def keys_in(store: ObjectStore, prefix: str = "") -> set[str]:
    return {info.key for info in store.list(prefix)}


def publish_naming(bucket: Bucket, *audio: bytes, commune: str = "bum-nua") -> None:
    start = datetime.now(UTC) + timedelta(hours=1)
    items = [
        item(bucket.put_audio(data), start, item_id=f"item-{index}")
        for index, data in enumerate(audio)
    ]
    Bucket(bucket.store, bucket.key, commune).publish(manifest(items, commune=commune))


def gc(bucket: Bucket, state_path: Path, now: datetime, *, dry_run: bool = False) -> GcReport:
    return collect_garbage(
        bucket.store, now=now, unreferenced_after=WEEK, state_path=state_path, dry_run=dry_run
    )


def test_first_run_deletes_nothing_and_remembers_what_is_unreferenced(
    bucket: Bucket, state_path: Path
) -> None:
    publish_naming(bucket, b"referenced" * 100)
    orphan = bucket.put_audio(b"orphan" * 100)
    now = datetime.now(UTC)

    report = gc(bucket, state_path, now)

    assert report.deleted == () and report.blocked == ()
    assert (report.referenced_objects, report.referenced_bytes) == (1, 1000)
    assert [(entry.key, entry.unreferenced_since) for entry in report.kept] == [(orphan.key, now)]
    assert report.kept[0].deletable_from >= now + WEEK
    assert report.manifests == (manifest_key("bum-nua"),)
    assert orphan.key in keys_in(bucket.store, "audio/")
    state = json.loads(state_path.read_text())
    assert state["unreferenced_since"] == {orphan.key: now.isoformat()}


def test_a_later_run_deletes_only_audio_unreferenced_long_enough(
    bucket: Bucket, state_path: Path
) -> None:
    publish_naming(bucket, b"referenced" * 100)
    orphan = bucket.put_audio(b"orphan" * 100)
    store = bucket.store
    store.put_bytes(HEARTBEAT, b'{"commune": "bum-nua"}', "application/json")
    store.put_bytes(OLD_RECEIPT, b'{"outcome": "played"}', "application/json")
    store.put_bytes("audio/readme.txt", b"not a clip", "text/plain")
    store.put_bytes("notes/operator.txt", b"keep me", "text/plain")
    now = datetime.now(UTC)
    gc(bucket, state_path, now)
    before = keys_in(store)

    early = gc(bucket, state_path, now + WEEK - timedelta(minutes=1))
    assert early.deleted == () and [entry.key for entry in early.kept] == [orphan.key]

    report = gc(bucket, state_path, now + WEEK + timedelta(minutes=1))

    assert [entry.key for entry in report.deleted] == [orphan.key]
    assert report.deleted_bytes == 600 and report.kept == ()
    assert report.ignored == ("audio/readme.txt",)
    assert keys_in(store) == before - {orphan.key}


def test_audio_named_again_leaves_the_state(bucket: Bucket, state_path: Path) -> None:
    reused = b"reused" * 100
    bucket.put_audio(reused)
    now = datetime.now(UTC)
    assert [entry.key for entry in gc(bucket, state_path, now).kept] != []

    publish_naming(bucket, reused)
    report = gc(bucket, state_path, now + 2 * WEEK)

    assert report.deleted == () and report.kept == () and report.referenced_objects == 1
    assert json.loads(state_path.read_text())["unreferenced_since"] == {}


def test_a_recent_upload_is_kept_however_long_its_key_was_seen_unreferenced(
    bucket: Bucket, state_path: Path
) -> None:
    # The audio of a publish still in progress: its manifest is not written yet.
    fresh = bucket.put_audio(b"in progress" * 100)
    now = datetime.now(UTC)
    gc(bucket, state_path, now - 2 * WEEK)

    report = gc(bucket, state_path, now)

    assert report.deleted == ()
    (kept,) = report.kept
    assert kept.unreferenced_since == now - 2 * WEEK
    assert kept.deletable_from == kept.last_modified + WEEK
    assert fresh.key in keys_in(bucket.store, "audio/")


def test_unsigned_and_expired_manifests_still_keep_their_audio(
    bucket: Bucket, state_path: Path
) -> None:
    old = datetime.now(UTC) - timedelta(days=30)
    stranger = Ed25519PrivateKey.generate()
    expired = manifest(
        [item(bucket.put_audio(b"expired" * 100), old)], valid_until=old + timedelta(days=1)
    )
    bucket.publish(expired, key=stranger)
    now = datetime.now(UTC)
    gc(bucket, state_path, now)

    report = gc(bucket, state_path, now + 2 * WEEK)

    assert report.deleted == () and report.kept == () and report.referenced_objects == 1


def test_an_unreadable_manifest_stops_every_deletion(bucket: Bucket, state_path: Path) -> None:
    orphan = bucket.put_audio(b"orphan" * 100)
    now = datetime.now(UTC)
    gc(bucket, state_path, now)
    state_before = state_path.read_bytes()
    broken = Bucket(bucket.store, bucket.key, "pa-u")
    broken.put_manifest_bytes(b'{"items": [{"audio": {"sha256": "no key"}}]')

    report = gc(bucket, state_path, now + 2 * WEEK)

    assert report.deleted == ()
    (reason,) = report.blocked
    assert "communes/pa-u/manifest.json" in reason
    assert orphan.key in keys_in(bucket.store, "audio/")
    assert state_path.read_bytes() == state_before


def test_a_manifest_without_audio_keys_stops_every_deletion(
    bucket: Bucket, state_path: Path
) -> None:
    bucket.put_audio(b"orphan" * 100)
    now = datetime.now(UTC)
    gc(bucket, state_path, now)
    bucket.put_manifest_bytes(json.dumps({"items": [{"audio": {"sha256": "a" * 64}}]}).encode())

    report = gc(bucket, state_path, now + 2 * WEEK)

    assert report.deleted == ()
    assert "items.0.audio.key" in report.blocked[0]


def test_a_dry_run_deletes_and_writes_nothing(bucket: Bucket, state_path: Path) -> None:
    orphan = bucket.put_audio(b"orphan" * 100)
    now = datetime.now(UTC)
    gc(bucket, state_path, now)
    state_before = state_path.read_bytes()
    newcomer = bucket.put_audio(b"newcomer" * 100)

    report = gc(bucket, state_path, now + 2 * WEEK, dry_run=True)

    assert report.dry_run
    assert [entry.key for entry in report.deleted] == [orphan.key]
    assert [entry.key for entry in report.kept] == [newcomer.key]
    assert {orphan.key, newcomer.key} <= keys_in(bucket.store, "audio/")
    assert state_path.read_bytes() == state_before


def test_a_dry_run_first_run_leaves_no_state(bucket: Bucket, state_path: Path) -> None:
    bucket.put_audio(b"orphan" * 100)
    report = gc(bucket, state_path, datetime.now(UTC), dry_run=True)
    assert len(report.kept) == 1
    assert not state_path.exists()


class PublishingDuringGc(S3ObjectStore):
    """A store on which a publish writes a manifest right after gc's first listing."""

    publish: Bucket | None = None

    def list(self, prefix: str, *, page_size: int = 1000) -> Iterator[ObjectInfo]:
        yield from super().list(prefix, page_size=page_size)
        if prefix == "communes/" and self.publish is not None:
            publishing, self.publish = self.publish, None
            publish_naming(publishing, b"orphan" * 100, commune="pa-u")


def test_a_manifest_written_while_gc_runs_stops_deletion(
    seaweed_session: SeaweedSession, object_store: S3ObjectStore, state_path: Path
) -> None:
    access_key, secret_key = storage_credentials(seaweed_session.settings)
    store = PublishingDuringGc(
        object_store.endpoint, object_store.region, object_store.bucket, access_key, secret_key
    )
    bucket = Bucket(store, Ed25519PrivateKey.generate())
    orphan = bucket.put_audio(b"orphan" * 100)
    now = datetime.now(UTC)
    gc(bucket, state_path, now)
    store.publish = bucket

    report = gc(bucket, state_path, now + 2 * WEEK)

    assert report.deleted == () and "changed" in report.blocked[0]
    assert orphan.key in keys_in(store, "audio/")


def test_an_unreadable_state_file_is_named(bucket: Bucket, state_path: Path) -> None:
    state_path.parent.mkdir(parents=True)
    state_path.write_text('{"schema": "something else"}')
    with pytest.raises(GcStateError, match=str(state_path)):
        gc(bucket, state_path, datetime.now(UTC))


def test_gc_refuses_a_time_without_zone(bucket: Bucket, state_path: Path) -> None:
    with pytest.raises(ValueError, match="zone"):
        gc(bucket, state_path, datetime.now())


# --- as-run receipts ---------------------------------------------------------------------


def receipt_key(day: datetime, commune: str = "bum-nua") -> str:
    return f"communes/{commune}/asrun/{day.date().isoformat()}/1700000000000-bulletin-1.json"


def test_prune_receipts_deletes_only_receipts_past_their_keeping_time(
    object_store: S3ObjectStore,
) -> None:
    now = datetime.now(UTC)
    too_old = receipt_key(now - timedelta(days=401), commune="pa-u")
    kept = [receipt_key(now - timedelta(days=400)), receipt_key(now - timedelta(days=3))]
    undated = "communes/bum-nua/asrun/notes.json"
    others = [HEARTBEAT, manifest_key("bum-nua"), f"audio/{'a' * 64}.mp3"]
    for key in [too_old, *kept, undated, *others]:
        object_store.put_bytes(key, b"{}", "application/json")

    dry = prune_receipts(object_store, now=now, keep_days=400, dry_run=True)
    assert dry.deleted == (too_old,) and too_old in keys_in(object_store)

    report = prune_receipts(object_store, now=now, keep_days=400)

    assert report.deleted == (too_old,) and report.deleted_bytes == 2
    assert report.kept == 2 and report.skipped == (undated,)
    assert report.first_kept_day == (now - timedelta(days=400)).date()
    assert keys_in(object_store) == {*kept, undated, *others}


def test_gc_never_deletes_receipts_however_old(bucket: Bucket, state_path: Path) -> None:
    store = bucket.store
    ancient = receipt_key(datetime(2001, 1, 1, tzinfo=UTC))
    store.put_bytes(ancient, b"{}", "application/json")
    now = datetime.now(UTC)
    gc(bucket, state_path, now)
    gc(bucket, state_path, now + timedelta(days=5000))
    assert ancient in keys_in(store)


# --- the command line --------------------------------------------------------------------


def cli_env(settings: Settings) -> dict[str, str]:
    storage, secret = settings.storage, settings.storage.secret_key
    return {
        "LOA_DATA_DIR": str(settings.data_dir),
        "LOA_STORAGE__ENDPOINT": str(storage.endpoint),
        "LOA_STORAGE__REGION": storage.region,
        "LOA_STORAGE__BUCKET": storage.bucket,
        "LOA_STORAGE__ACCESS_KEY": storage.access_key,
        "LOA_STORAGE__SECRET_KEY": secret.get_secret_value() if secret else "",
    }


def test_loa_storage_gc_reports_in_json_and_in_vietnamese(
    seaweed_settings: Settings, object_store: S3ObjectStore, tmp_path: Path
) -> None:
    bucket = Bucket(object_store, Ed25519PrivateKey.generate())
    publish_naming(bucket, b"referenced" * 100)
    orphan = bucket.put_audio(b"orphan" * 100)
    env = cli_env(seaweed_settings)

    dry = run_loa("storage", "gc", "--dry-run", env=env, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "Chạy thử" in dry.stdout and "Sẽ xoá 0 tệp" in dry.stdout
    assert not (seaweed_settings.data_dir / "storage-gc.json").exists()

    result = run_loa("storage", "gc", "--json", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["bucket"] == object_store.bucket and document["dry_run"] is False
    assert document["referenced"] == {"objects": 1, "bytes": 1000}
    assert [entry["key"] for entry in document["kept"]] == [orphan.key]
    assert document["deleted"] == [] and document["unreferenced_after_days"] == 7.0
    assert (seaweed_settings.data_dir / "storage-gc.json").is_file()

    human = run_loa("storage", "gc", env=env, cwd=tmp_path)
    assert "Âm thanh không lịch nào dùng" in human.stdout and "đang được dùng" in human.stdout


def test_loa_storage_gc_exits_1_when_a_manifest_cannot_be_read(
    seaweed_settings: Settings, object_store: S3ObjectStore, tmp_path: Path
) -> None:
    object_store.put_bytes(manifest_key("pa-u"), b"\xff not json", "application/json")
    result = run_loa("storage", "gc", env=cli_env(seaweed_settings), cwd=tmp_path)
    assert result.returncode == 1
    assert "Không xoá gì" in result.stdout and "communes/pa-u/manifest.json" in result.stdout


def test_loa_storage_prune_receipts_json(
    seaweed_settings: Settings, object_store: S3ObjectStore, tmp_path: Path
) -> None:
    old = receipt_key(datetime.now(UTC) - timedelta(days=900))
    object_store.put_bytes(old, b"{}", "application/json")
    result = run_loa(
        "storage", "prune-receipts", "--dry-run", "--json",
        env=cli_env(seaweed_settings), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["deleted"] == [old] and document["dry_run"] is True
    assert document["keep_days"] == 400
    assert old in keys_in(object_store)


def test_loa_storage_gc_names_a_broken_state_file(
    seaweed_settings: Settings, tmp_path: Path
) -> None:
    state = seaweed_settings.data_dir / "storage-gc.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text("not json")
    result = run_loa("storage", "gc", env=cli_env(seaweed_settings), cwd=tmp_path)
    assert result.returncode == 1
    assert str(state) in one_line_error(result)
