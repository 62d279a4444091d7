"""Publishing an approved item: render, upload once, merge into signed commune manifests."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app._publishing import content_store, publish_content, resolve_communes
from config import Settings, UserInputError
from playout import (
    DistrictKeys,
    ManifestItem,
    Priority,
    Publisher,
    PublishReport,
    S3ObjectStore,
    manifest_key,
    verify,
)
from tests.manifests import audio_ref, item

TEXT = "Thông báo: trạm y tế xã tiêm vắc-xin cho trẻ em vào sáng thứ Tư."


@pytest.fixture
def settings(seaweed_settings: Settings) -> Settings:
    DistrictKeys(seaweed_settings.key_dir).init()
    return seaweed_settings


def approved_item(settings: Settings, title: str, recording: Path | None = None) -> int:
    store = content_store(settings)
    item = store.add_item("announcement", title, "vi", text=TEXT)
    if recording is not None:
        store.add_variant(item.id, "blt", audio_file=recording)
    store.approve(item.id, "test")
    return item.id


def read_manifest(settings: Settings, commune_id: str) -> dict[str, object]:
    store = S3ObjectStore.from_settings(settings)
    data = store.get_bytes(manifest_key(commune_id), max_bytes=1 << 20)
    keys = [DistrictKeys(settings.key_dir).private_key().public_key()]
    verify(data, keys, source=commune_id, now=datetime.now(UTC))
    document: dict[str, object] = json.loads(data)
    return document


def test_second_publish_merges_and_reuses_audio(settings: Settings) -> None:
    communes = resolve_communes(settings, "bum-nua,pa-u")
    start = datetime.now(UTC) + timedelta(minutes=5)
    first = publish_content(settings, approved_item(settings, "Một"), communes, start)
    second_id = approved_item(settings, "Hai")
    second = publish_content(settings, second_id, communes, start + timedelta(minutes=1))

    assert len(first.report.uploaded) == 1
    assert second.report.uploaded == [] and len(second.report.already_present) == 1
    for commune_id in ("bum-nua", "pa-u"):
        assert second.report.sequences[commune_id] > first.report.sequences[commune_id]
        manifest = read_manifest(settings, commune_id)
        titles = [entry["title"] for entry in manifest["items"]]  # type: ignore[attr-defined]
        assert titles == ["Một", "Hai"]


def test_each_language_follows_the_previous_one(settings: Settings, tmp_path: Path) -> None:
    recording = tmp_path / "bản đọc tiếng Thái.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=f=300:d=2", str(recording)],
        check=True,
    )
    item_id = approved_item(settings, "Hai thứ tiếng", recording)
    start = datetime.now(UTC) + timedelta(minutes=5)
    outcome = publish_content(
        settings, item_id, resolve_communes(settings, "thi-tran-muong-te"), start
    )
    vi, blt = (play.item for play in outcome.plays)
    assert (vi.language, blt.language) == ("vi", "blt")
    assert blt.audio.sha256 != vi.audio.sha256
    assert blt.start == vi.start + timedelta(milliseconds=vi.audio.duration_ms + 2000)


def test_a_language_that_cannot_be_spoken_does_not_hold_back_the_others(
    settings: Settings,
) -> None:
    store = content_store(settings)
    item = store.add_item("announcement", "Hai thứ tiếng", "vi", text=TEXT)
    store.add_variant(item.id, "blt", text="Câu này không có trong kho câu ghi âm.")
    store.approve(item.id, "test")
    start = datetime.now(UTC) + timedelta(minutes=5)
    outcome = publish_content(
        settings, item.id, resolve_communes(settings, "thi-tran-muong-te"), start
    )
    assert [play.item.language for play in outcome.plays] == ["vi"]
    assert "no engine could speak 'blt'" in outcome.failed_languages["blt"]
    assert outcome.syntheses["vi"].engine == "espeak"  # edge is out of reach here


def test_a_forged_manifest_is_replaced_not_merged(settings: Settings) -> None:
    communes = resolve_communes(settings, "pa-u")
    start = datetime.now(UTC) + timedelta(minutes=5)
    publish_content(settings, approved_item(settings, "Thật"), communes, start)
    store = S3ObjectStore.from_settings(settings)
    forged = json.loads(store.get_bytes(manifest_key("pa-u"), max_bytes=1 << 20))
    forged["items"][0]["title"] = "Lệnh sơ tán giả"
    store.put_bytes(manifest_key("pa-u"), json.dumps(forged).encode(), "application/json")

    publish_content(settings, approved_item(settings, "Mới"), communes, start)
    titles = [entry["title"] for entry in read_manifest(settings, "pa-u")["items"]]  # type: ignore[attr-defined]
    assert titles == ["Mới"]


def test_unknown_commune_is_named() -> None:
    from config import EXAMPLE_CONFIG, load_settings

    with pytest.raises(UserInputError, match="unknown commune 'atlantis'"):
        resolve_communes(load_settings(EXAMPLE_CONFIG), "pa-u,atlantis")


def test_content_and_manifest_share_one_vocabulary() -> None:
    """The agent must not import the editorial layer (SQLAlchemy at every commune), so the
    manifest declares its own kinds and priorities; they must stay the content's."""
    import content
    import playout

    assert {str(kind) for kind in content.ContentKind} == {str(k) for k in playout.ItemKind}
    assert {str(p) for p in content.Priority} == {str(p) for p in playout.Priority}


def test_a_start_past_its_play_window_is_refused(settings: Settings) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=1)
    with pytest.raises(UserInputError, match="is past"):
        publish_content(
            settings, approved_item(settings, "Muộn"), resolve_communes(settings, "pa-u"), long_ago
        )


# --- Withdrawing items: an alert replaced or cancelled (issue 7) -------------------------

ALERT_COMMUNES = ("bum-nua", "pa-u")
SOON = timedelta(minutes=10)


def alert(item_id: str, start: datetime) -> ManifestItem:
    ref = audio_ref(item_id.encode())  # publishing manifests never reads the audio
    return item(ref, start, item_id=item_id, priority=Priority.EMERGENCY, title="Lũ quét")


def manifest_ids(store: S3ObjectStore, keys: DistrictKeys, commune_id: str) -> list[str]:
    data = store.get_bytes(manifest_key(commune_id), max_bytes=1 << 20)
    manifest = verify(data, keys.public_keys(), source=commune_id, now=datetime.now(UTC))
    return [entry.id for entry in manifest.items]


def publish_alert(
    district: Publisher, items: list[ManifestItem], withdraw: tuple[str, ...] = ()
) -> PublishReport:
    report = PublishReport()
    district.publish({commune: items for commune in ALERT_COMMUNES}, report, withdraw=withdraw)
    return report


def manifest_puts(store: S3ObjectStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The manifest keys ``store`` writes from now on, one entry per PUT."""
    puts: list[str] = []
    put_bytes = store.put_bytes

    def counting(key: str, data: bytes, content_type: str) -> str:
        puts.append(key)
        return put_bytes(key, data, content_type)

    monkeypatch.setattr(store, "put_bytes", counting)
    return puts


@pytest.fixture
def start() -> datetime:
    return datetime.now(UTC) + SOON


@pytest.fixture
def district(
    object_store: S3ObjectStore, district_keys: DistrictKeys, start: datetime
) -> Publisher:
    """A district whose communes hold a bulletin and the alert ``alert-1-vi``."""
    district = Publisher(object_store, district_keys, "muong-te", validity=timedelta(hours=6))
    bulletin = item(audio_ref(b"bulletin"), start + timedelta(hours=1))
    publish_alert(district, [bulletin, alert("alert-1-vi", start)])
    return district


def test_replacing_an_alert_withdraws_and_adds_in_one_write(
    district: Publisher,
    object_store: S3ObjectStore,
    district_keys: DistrictKeys,
    start: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = {commune: manifest_sequence(object_store, commune) for commune in ALERT_COMMUNES}
    puts = manifest_puts(object_store, monkeypatch)
    replacement = [alert("alert-2-vi", start), alert("alert-2-hnj", start)]
    report = publish_alert(district, replacement, withdraw=("alert-1-vi",))

    assert sorted(puts) == sorted(manifest_key(commune) for commune in ALERT_COMMUNES)
    assert sorted(report.written) == sorted(ALERT_COMMUNES)
    for commune in ALERT_COMMUNES:
        ids = manifest_ids(object_store, district_keys, commune)
        assert ids == ["alert-2-hnj", "alert-2-vi", "bulletin-1"]
        assert report.sequences[commune] == manifest_sequence(object_store, commune)
        assert report.sequences[commune] > before[commune]


def test_cancelling_withdraws_only_and_a_rerun_writes_nothing(
    district: Publisher,
    object_store: S3ObjectStore,
    district_keys: DistrictKeys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cancel = publish_alert(district, [], withdraw=("alert-1-vi",))
    puts = manifest_puts(object_store, monkeypatch)
    again = publish_alert(district, [], withdraw=("alert-1-vi",))

    assert sorted(cancel.written) == sorted(ALERT_COMMUNES)
    for commune in ALERT_COMMUNES:
        assert manifest_ids(object_store, district_keys, commune) == ["bulletin-1"]
    assert again.written == [] and again.sequences == cancel.sequences and puts == []


def test_a_replacement_run_again_writes_nothing(
    district: Publisher,
    object_store: S3ObjectStore,
    start: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = publish_alert(district, [alert("alert-2-vi", start)], withdraw=("alert-1-vi",))
    puts = manifest_puts(object_store, monkeypatch)
    again = publish_alert(district, [alert("alert-2-vi", start)], withdraw=("alert-1-vi",))

    assert sorted(again.unchanged) == sorted(ALERT_COMMUNES)
    assert again.sequences == first.sequences and puts == []


def test_withdrawing_an_item_that_is_not_there_writes_nothing(
    district: Publisher,
    object_store: S3ObjectStore,
    district_keys: DistrictKeys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    puts = manifest_puts(object_store, monkeypatch)
    # Exact ids only: "alert-1" does not withdraw "alert-1-vi".
    report = publish_alert(district, [], withdraw=("alert-9-vi", "alert-1"))

    assert sorted(report.unchanged) == sorted(ALERT_COMMUNES) and puts == []
    for commune in ALERT_COMMUNES:
        assert manifest_ids(object_store, district_keys, commune) == ["alert-1-vi", "bulletin-1"]


def manifest_sequence(store: S3ObjectStore, commune_id: str) -> int:
    data = store.get_bytes(manifest_key(commune_id), max_bytes=1 << 20)
    sequence: int = json.loads(data)["sequence"]
    return sequence
