"""``loa demo``: one bulletin from text to three communes' loudspeakers, in Vietnamese
and in each commune's ethnic language (from the demo phrase bank's stand-in recordings):
first as a one-off item, then booked into a slot and built as the scheduler builds a
slot's bulletins; before them, an emergency alert in every language the communes speak,
issued without the internet, played first, and cancelled at the end."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from app._alerts import cancel_alert, send_alert
from app._bulletins import build_slot
from app._publishing import content_store, publish_content
from config import Commune, LoaError, Settings
from content import AlertDraft, AlertStatus, Hazard
from pipeline import LoudnessReport, check_tools, measure
from pipeline.tts import PhraseBank, Utterance, build_demo_phrasebank
from playout import (
    CommuneAgent,
    DistrictKeys,
    EmbeddedSeaweed,
    FileSink,
    ManifestItem,
    S3ObjectStore,
    storage_endpoint,
)
from playout.scheduler import BuildStatus, DistrictScheduler, SlotRun

DEMO_TEXT = Path(__file__).parent / "samples" / "bulletin-demo-vi.txt"
DEMO_ALERT_TEXT = (
    "Cảnh báo lũ quét, sạt lở đất. Đề nghị bà con không đi qua ngầm, tràn, suối khi nước "
    "đang lên; các hộ ven suối di chuyển ngay đến nơi an toàn."
)
DEMO_TITLE = "Bản tin phát thử hệ thống Loa"
DEMO_COMMUNES = ("thi-tran-muong-te", "bum-nua", "pa-u")
LEAD_TIME = timedelta(seconds=6)
PLAY_WINDOW = timedelta(minutes=2)
AGENT_MARGIN = timedelta(seconds=15)  # the agents wait for the last start plus this
DEMO_SLOT = "demo"  # not a configured slot: nothing the scheduler itself would build
SLOT_GAP = timedelta(seconds=5)  # between the one-off items and the slot bulletins

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DemoPlay:
    commune: str
    item_id: str
    audio_sha256: str
    scheduled: str
    started: str
    delay_ms: int
    lufs: float
    true_peak_dbtp: float
    file: str


@dataclass(frozen=True)
class DemoResult:
    bucket: str
    s3_endpoint: str
    data_dir: str
    content_id: int
    alert_id: int
    wall_s: float
    plays: list[DemoPlay]
    speech: dict[str, dict[str, Any]]  # per language: engine, voice, fallbacks, cached

    @property
    def tts_cache_hit_rate(self) -> float:
        cached = sum(1 for spoken in self.speech.values() if spoken["cached"])
        return cached / len(self.speech) if self.speech else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = self.__dict__.copy()
        data["plays"] = [play.__dict__ for play in self.plays]
        data["tts_cache_hit_rate"] = round(self.tts_cache_hit_rate, 3)
        return data


def run_demo(settings: Settings, progress: Progress) -> DemoResult:
    began = time.monotonic()
    check_tools()
    with _storage(settings, progress):
        progress("Tạo khóa ký, kho câu mẫu tiếng dân tộc và nội dung mẫu…")
        DistrictKeys(settings.key_dir).init()
        communes = [settings.organisation.commune(cid) for cid in _demo_communes(settings)]
        bank_languages = _phrasebank_languages(settings, communes)
        content_id = _approved_demo_item(settings, bank_languages)
        progress("Các trạm xã khởi động: đồng bộ bằng khóa S3 riêng, kiểm tra chữ ký…")
        with _agents_running(settings, [commune.id for commune in communes]) as agents:
            progress("Phát cảnh báo khẩn cấp bằng mọi ngôn ngữ của các xã (không cần Internet)…")
            draft = _demo_alert(settings, communes, bank_languages)
            alert = send_alert(settings, draft, actor="demo")
            expected = {
                (delivery.commune, item_id)
                for delivery in alert.alert.deliveries
                for item_id in delivery.item_ids
            }
            progress("Đọc bản tin (edge-tts, không có mạng thì espeak-ng), xử lý, phát hành…")
            outcome = publish_content(
                settings, content_id, communes, LEAD_TIME, play_window=PLAY_WINDOW
            )
            expected |= {(play.commune_id, play.item.id) for play in outcome.plays}
            last_end = max(_end(play.item) for play in outcome.plays)
            progress("Xếp nội dung vào khung phát và dựng bản tin của khung (như bộ lập lịch)…")
            expected |= _slot_bulletins(settings, content_id, communes, last_end + SLOT_GAP)
            progress("Các trạm xã phát đúng giờ…")
            last_start = last_end + SLOT_GAP + timedelta(minutes=1)  # the bulletins' latest
            agents.wait_for(expected, last_start + AGENT_MARGIN)
        cancel_alert(settings, alert.alert.id, actor="demo", reason="Kết thúc chạy thử")
        sink_dirs = agents.sink_dirs
    plays = _collect_plays(sink_dirs, expected)
    missing = expected - {(play.commune, play.item_id) for play in plays}
    if missing:
        raise LoaError(f"demo: not played at {sorted(commune for commune, _ in missing)}")
    return DemoResult(
        bucket=settings.storage.bucket,
        s3_endpoint=storage_endpoint(settings),
        data_dir=str(settings.data_dir.resolve()),
        content_id=content_id,
        alert_id=alert.alert.id,
        wall_s=round(time.monotonic() - began, 1),
        plays=plays,
        speech={language: synthesis.to_dict() for language, synthesis in outcome.syntheses.items()},
    )


def _demo_alert(
    settings: Settings, communes: list[Commune], bank_languages: list[str]
) -> AlertDraft:
    """A level-3 flash-flood alert, Vietnamese from text, the ethnic languages from the
    phrase bank (which says each commune's name), no repeats."""
    now = datetime.now(settings.organisation.district.zone).replace(microsecond=0)
    return AlertDraft(
        title="[CHẠY THỬ] Cảnh báo lũ quét – rủi ro thiên tai cấp độ 3",
        hazard=Hazard.FLASH_FLOOD,
        level=3,
        status=AlertStatus.ACTUAL,
        communes=tuple(commune.id for commune in communes),
        issued_at=now,
        expires_at=now + timedelta(hours=1),
        identifier=f"loa-demo-{now:%Y%m%dT%H%M%S}-{time.monotonic_ns()}",
        sender=f"{settings.organisation.district.id}@loa",
        texts={"vi": DEMO_ALERT_TEXT},
        phrasebank_languages=tuple(bank_languages),
    )


def _end(item: ManifestItem) -> datetime:
    return item.start + timedelta(milliseconds=item.audio.duration_ms)


def _slot_bulletins(
    settings: Settings, content_id: int, communes: list[Commune], starts_at: datetime
) -> set[tuple[str, str]]:
    """Book the item into the demo's own slot and build that slot now, as the district
    scheduler does at a slot's build time; the (commune, item id) pairs it published.
    The booking is cancelled after: a later demo's slot holds only its own item."""
    store = content_store(settings)
    day = starts_at.astimezone(settings.organisation.district.zone).date()
    booking = store.book(content_id, DEMO_SLOT, communes=None, first_day=day, actor="demo")
    run = SlotRun(
        slot=DEMO_SLOT,
        starts_at=starts_at,
        duration=timedelta(minutes=2),
        lead=timedelta(0),
        communes=tuple(commune.id for commune in communes),
        title="Bản tin khung phát thử",
    )
    try:
        record = DistrictScheduler(settings, partial(build_slot, settings)).build(run)
    finally:
        store.unbook(booking.id, "demo")
    if record.status is not BuildStatus.PUBLISHED:
        raise LoaError(f"demo: the slot bulletin was not published: {record.summary}")
    return {
        (commune_id, f"{DEMO_SLOT}-{day.isoformat()}-{language}")
        for commune_id, languages in record.detail["communes"].items()
        for language in languages
    }


def _demo_communes(settings: Settings) -> list[str]:
    registered = settings.organisation.commune_ids()
    chosen = [commune for commune in DEMO_COMMUNES if commune in registered]
    return chosen if len(chosen) == len(DEMO_COMMUNES) else registered[:3]


@contextmanager
def _storage(settings: Settings, progress: Progress) -> Iterator[None]:
    """The embedded store for the demo's duration; left running if it already was."""
    if not settings.storage.is_embedded:
        S3ObjectStore.from_settings(settings).ensure_bucket()
        yield
        return
    seaweed = EmbeddedSeaweed(settings)
    already_running = seaweed.status().running
    progress("Khởi động kho lưu trữ SeaweedFS nhúng…")
    seaweed.start()
    try:
        yield
    finally:
        if not already_running:
            seaweed.stop()


def _phrasebank_languages(settings: Settings, communes: list[Commune]) -> list[str]:
    """The demo communes' languages that the phrase bank speaks (by the configured chains)."""
    languages = {language for commune in communes for language in commune.languages}
    chains = settings.tts.chains
    return sorted(code for code in languages if "phrasebank" in chains.get(code, []))


def _approved_demo_item(settings: Settings, bank_languages: list[str]) -> int:
    store = content_store(settings)
    text = DEMO_TEXT.read_text(encoding="utf-8")
    item = store.add_item("bulletin", DEMO_TITLE, "vi", text=text, actor="demo")
    build_demo_phrasebank(settings.phrasebank_dir, bank_languages)
    issued = _issue_time(settings)
    for language in bank_languages:
        bank = PhraseBank.load(settings.phrasebank_dir / language)
        store.add_variant(item.id, language, text=_issued_text(bank, issued), actor="demo")
    store.approve(item.id, "demo")
    return item.id


def _issue_time(settings: Settings) -> datetime:
    """Now, to the 5 minutes the demo bank has recordings for."""
    now = datetime.now(settings.organisation.district.zone)
    return now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)


def _issued_text(bank: PhraseBank, issued: datetime) -> str:
    """ "Bản tin phát lúc … ngày …" as the bank's phrases say it: the ethnic variant's
    text, which the phrase bank engine then assembles from the recordings."""
    slots = {"time": issued.strftime("%H:%M"), "date": issued.date().isoformat()}
    phrase_ids = bank.expand(Utterance("issued", slots))
    return " ".join(bank.phrases[phrase_id].transcript for phrase_id in phrase_ids)


class _Agents:
    """The demo communes' agents, running as a commune box runs them, until stopped."""

    def __init__(self, settings: Settings, commune_ids: list[str]) -> None:
        self.sink_dirs = {cid: settings.data_dir / "demo" / "played" / cid for cid in commune_ids}
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        stores = {cid: _commune_store(settings, cid) for cid in commune_ids}
        self.threads = [
            threading.Thread(
                target=_run_one_agent,
                args=(settings, cid, self.sink_dirs[cid], stores[cid], self.stop, self.errors),
                name=cid,
            )
            for cid in commune_ids
        ]

    def wait_for(self, expected: set[tuple[str, str]], deadline: datetime) -> None:
        """Until every (commune, item id) has played, or ``deadline``."""
        while datetime.now(deadline.tzinfo) < deadline and not self.errors:
            played = {(p.commune, p.item_id) for p in _collect_plays(self.sink_dirs, expected)}
            if expected <= played:
                return
            time.sleep(0.5)


@contextmanager
def _agents_running(settings: Settings, commune_ids: list[str]) -> Iterator[_Agents]:
    agents = _Agents(settings, commune_ids)
    for thread in agents.threads:
        thread.start()
    try:
        yield agents
    finally:
        agents.stop.set()
        for thread in agents.threads:
            thread.join()
    if agents.errors:
        raise agents.errors[0]


def _commune_store(settings: Settings, commune_id: str) -> S3ObjectStore:
    """The commune's own least-privilege identity on the embedded store, as a commune box
    uses it (issued on the first demo, then reused); the district's on an external S3."""
    if not settings.storage.is_embedded:
        return S3ObjectStore.from_settings(settings)
    seaweed = EmbeddedSeaweed(settings)
    key = seaweed.identities.key(commune_id)
    if key is None:
        return seaweed.issue_credentials(commune_id).open_store(settings.storage.region)
    return S3ObjectStore.from_settings(settings, key.access_key, key.secret_key)


def _run_one_agent(
    settings: Settings,
    commune_id: str,
    sink_dir: Path,
    store: S3ObjectStore,
    stop: threading.Event,
    errors: list[BaseException],
) -> None:
    try:
        sink = FileSink(sink_dir, zone=settings.organisation.district.zone)
        CommuneAgent(settings, commune_id, store, sink).run(stop_event=stop)
    except BaseException as error:  # reported by the main thread
        errors.append(error)


def _collect_plays(sink_dirs: dict[str, Path], expected: set[tuple[str, str]]) -> list[DemoPlay]:
    plays: list[DemoPlay] = []
    loudness: dict[str, LoudnessReport] = {}  # the communes played the same bytes
    for commune_id, sink_dir in sink_dirs.items():
        log = sink_dir / "plays.jsonl"
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        for record in map(json.loads, lines):
            if (commune_id, record["item_id"]) in expected:
                sha256 = record["audio_sha256"]
                if sha256 not in loudness:
                    loudness[sha256] = measure(Path(record["file"]))
                plays.append(_demo_play(record, loudness[sha256]))
    return plays


def _demo_play(record: dict[str, Any], loudness: LoudnessReport) -> DemoPlay:
    scheduled = datetime.fromisoformat(record["scheduled"])
    started = datetime.fromisoformat(record["started"])
    return DemoPlay(
        commune=record["commune"],
        item_id=record["item_id"],
        audio_sha256=record["audio_sha256"],
        scheduled=record["scheduled"],
        started=record["started"],
        delay_ms=round((started - scheduled).total_seconds() * 1000),
        lufs=round(loudness.lufs, 1),
        true_peak_dbtp=round(loudness.true_peak_dbtp, 1),
        file=record["file"],
    )
