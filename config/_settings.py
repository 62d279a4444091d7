"""Typed settings: a YAML file, then ``LOA_*`` environment overrides (DESIGN.md §2)."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from config._alerts import AlertSettings
from config._registry import Organisation, check_slot_name
from config._slots import Slot, SlotSpec


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmbeddedStorageSettings(_Section):
    """The SeaweedFS that ``loa`` starts itself when no external endpoint is set."""

    bind: str = "127.0.0.1"
    # The S3 port. S3 gRPC, master, volume and filer (HTTP + gRPC each) take the next seven.
    port: int = Field(default=8333, ge=1024, le=65528)
    volume_size_limit_mb: int = Field(default=256, ge=8)
    start_timeout_s: float = Field(default=60.0, gt=0)


class StorageSettings(_Section):
    endpoint: str | None = Field(
        default=None, description="S3 endpoint URL; unset means the embedded SeaweedFS"
    )
    region: str = "us-east-1"
    bucket: str = Field(default="loa", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    access_key: str = Field(default="loa-district", min_length=3)
    secret_key: SecretStr | None = Field(
        default=None,
        description="unset with the embedded store: generated once under the data dir",
    )
    embedded: EmbeddedStorageSettings = EmbeddedStorageSettings()

    @property
    def is_embedded(self) -> bool:
        return self.endpoint is None


class KeySettings(_Section):
    dir: Path | None = Field(default=None, description="default: <data_dir>/keys")
    trusted_public_keys: list[str] = Field(
        default_factory=list,
        description="base64 Ed25519 district keys an agent accepts; empty: the local key",
    )


DEFAULT_AUDIO_PROFILE = "speech-loudspeaker"


class AudioProfile(_Section):
    """One processing and loudness policy; the defaults are ``speech-loudspeaker`` (DESIGN.md §6).

    A profile is data: a district adds its own (a music bed, a vendor's 24 kHz receivers)
    under ``audio.profiles`` in its config file.
    """

    description: str = ""
    target_lufs: float = Field(default=-16.0, ge=-40, le=-5)
    tolerance_lu: float = Field(default=0.5, gt=0, le=3)
    max_true_peak_dbtp: float = Field(default=-1.5, ge=-12, le=0)
    true_peak_margin_db: float = Field(
        default=1.5,
        ge=0,
        le=6,
        description="limiter ceiling below the maximum: MP3 at 64 kbps adds up to ~1.3 dB",
    )
    highpass_hz: float = Field(default=150.0, ge=0, le=1000, description="0: no high-pass")
    lowpass_hz: float = Field(
        default=12000.0,
        ge=0,
        le=48000,
        description="band limit before the limiter, under the encoder's own; 0: none",
    )
    phase_rotator: bool = Field(
        default=True, description="all-pass sections that lower the crest of voice"
    )
    max_lra_lu: float = Field(
        default=6.0, ge=1, le=30, description="the leveler compresses short-term LRA to this"
    )
    max_leveler_gain_db: float = Field(
        default=12.0, ge=0, le=24, description="the most the leveler raises or lowers a passage"
    )
    max_silence_s: float = Field(
        default=0.3, ge=0.05, le=5, description="leading/trailing silence kept at most"
    )
    sample_rate: int = Field(default=48000, ge=8000, le=96000)
    bitrate_kbps: int = Field(default=64, ge=16, le=320)
    channels: int = Field(default=1, ge=1, le=2)


class AudioSettings(_Section):
    """The audio profiles: the built-in ``speech-loudspeaker`` and any the config adds."""

    default_profile: str = DEFAULT_AUDIO_PROFILE
    profiles: dict[str, AudioProfile] = Field(
        default_factory=dict,
        description="named profiles; a name equal to a built-in one replaces it",
    )

    @model_validator(mode="after")
    def _default_profile_exists(self) -> AudioSettings:
        if self.default_profile not in self.profile_names():
            raise ValueError(
                f"default_profile {self.default_profile!r} is not a profile: "
                f"choose one of {self.profile_names()}"
            )
        return self

    def profile_names(self) -> list[str]:
        return sorted({DEFAULT_AUDIO_PROFILE, *self.profiles})

    def profile(self, name: str | None = None) -> AudioProfile:
        """The profile ``name`` (default: ``default_profile``); ``KeyError`` naming the choices."""
        wanted = name or self.default_profile
        if wanted in self.profiles:
            return self.profiles[wanted]
        if wanted == DEFAULT_AUDIO_PROFILE:
            return AudioProfile(description="speech for outdoor horn loudspeakers")
        raise KeyError(f"no audio profile {wanted!r}: choose one of {self.profile_names()}")


class EspeakSettings(_Section):
    """espeak-ng: offline, always there; the fallback an alert never waits behind."""

    voice: str = Field(default="vi", description="vi, vi-vn-x-central or vi-vn-x-south")
    rate_wpm: int = Field(default=150, ge=80, le=450)
    pitch: int = Field(default=50, ge=0, le=99, description="espeak-ng's 0-99 scale")


def _edge_voices() -> dict[str, list[str]]:
    return {
        "vi": ["vi-VN-HoaiMyNeural", "vi-VN-NamMinhNeural"],
        "km": ["km-KH-SreymomNeural", "km-KH-PisethNeural"],
    }


class EdgeSettings(_Section):
    """edge-tts: Microsoft's online neural voices, through an unofficial protocol."""

    voices: dict[str, list[str]] = Field(
        default_factory=_edge_voices,
        description="per language, the voices to offer; the first is the default",
    )
    service_url: str | None = Field(
        default=None,
        pattern=r"^wss?://",
        description="websocket endpoint; unset: the service edge-tts knows (a relay, a test)",
    )
    first_audio_timeout_s: float = Field(
        default=12.0,
        gt=0,
        le=14,
        description="no audio by then: the service is unreachable and the next engine speaks",
    )
    timeout_s: float = Field(default=300.0, gt=0, description="a whole text, at most")
    connect_timeout_s: int = Field(default=5, ge=1, le=60)
    receive_timeout_s: int = Field(default=30, ge=1, le=300)
    max_connections: int = Field(default=8, ge=1, le=8, description="per process")
    max_attempts: int = Field(default=4, ge=1, le=10, description="per chunk of text")
    backoff_initial_s: float = Field(default=0.5, gt=0, le=10)
    backoff_max_s: float = Field(default=4.0, gt=0, le=60)
    unreachable_pause_s: float = Field(
        default=300.0,
        ge=0,
        description="after the service was unreachable, skip it this long before trying again",
    )

    @model_validator(mode="after")
    def _voices_listed(self) -> EdgeSettings:
        for language, voices in self.voices.items():
            if not voices:
                raise ValueError(f"voices.{language}: list at least one voice")
        return self


class PhrasebankSettings(_Section):
    dir: Path | None = Field(
        default=None,
        description="one folder per language, each with its index.yaml; "
        "default: <data_dir>/phrasebank",
    )


def _default_chains() -> dict[str, list[str]]:
    return {"vi": ["edge", "espeak"], "km": ["edge"]}


class TTSSettings(_Section):
    """Text-to-speech (DESIGN.md §7): which engines speak each language, in order."""

    chains: dict[str, list[str]] = Field(
        default_factory=_default_chains,
        description="per language, the engines to try in order: edge, espeak, recorded, phrasebank",
    )
    lexicon: Path | None = Field(
        default=None, description="district lexicon (YAML, written form: spoken form)"
    )
    cache_dir: Path | None = Field(default=None, description="default: <data_dir>/tts-cache")
    cache_max_mb: int = Field(default=2048, ge=16)
    espeak: EspeakSettings = EspeakSettings()
    edge: EdgeSettings = EdgeSettings()
    phrasebank: PhrasebankSettings = PhrasebankSettings()

    @model_validator(mode="after")
    def _chains_usable(self) -> TTSSettings:
        for language, engines in self.chains.items():
            if not engines:
                raise ValueError(f"chains.{language}: name at least one engine")
            if len(set(engines)) != len(engines):
                raise ValueError(f"chains.{language}: an engine is listed twice in {engines}")
        return self


class PublishSettings(_Section):
    manifest_validity_hours: float = Field(default=48.0, gt=0)
    play_window_minutes: float = Field(
        default=60.0, gt=0, description="not_after = start + this, unless given"
    )
    parallel_requests: int = Field(
        default=16, ge=1, le=64, description="manifest and audio PUTs in flight at once"
    )
    multipart_threshold_mb: int = Field(
        default=8, ge=5, le=5120, description="audio above this is uploaded in parts of this size"
    )


class RetentionSettings(_Section):
    """What ``loa storage gc`` may delete, and what it must keep (DESIGN.md §3)."""

    audio_unreferenced_days: float = Field(
        default=7.0,
        ge=1.0,
        description="audio no manifest has named for this long is deleted",
    )
    asrun_days: int = Field(
        default=400, ge=30, description="as-run receipts are kept at least this long"
    )


def _default_slots() -> dict[str, SlotSpec]:
    return {
        "morning": SlotSpec(at=time(6), duration_minutes=30, title="Bản tin sáng"),
        "evening": SlotSpec(at=time(17), duration_minutes=30, title="Bản tin chiều"),
    }


class ScheduleSettings(_Section):
    """The district's recurring slots and how their bulletins are built (issue 6)."""

    slots: dict[str, SlotSpec] = Field(
        default_factory=_default_slots,
        description="name: 'HH:MM days, N min[, lead N min]'; communes may override",
    )
    lead_minutes: float = Field(
        default=30, gt=0, le=24 * 60, description="a slot's bulletin is built this long before"
    )
    gap_between_items_s: float = Field(
        default=2.0, ge=0, le=10, description="silence between two items of a bulletin"
    )

    @field_validator("slots")
    @classmethod
    def _slot_names(cls, value: dict[str, SlotSpec]) -> dict[str, SlotSpec]:
        for name in value:
            check_slot_name(name)
        return value


class AgentSettings(_Section):
    poll_interval_s: float = Field(
        default=5.0, gt=0, description="fetch audio, prune the cache and send receipts this often"
    )
    emergency_poll_s: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="check the manifest this often (a 304 when unchanged): an alert's latency",
    )
    heartbeat_interval_s: float = Field(default=30.0, gt=0, le=60)
    once_max_wait_s: float = Field(
        default=600.0, gt=0, description="with --once: play what starts within this"
    )
    player: list[str] = Field(
        default_factory=lambda: ["ffplay", "-nodisp", "-autoexit", "-loglevel", "error"],
        description="command of the audio sink; the file path is appended",
    )
    access_key: str | None = Field(default=None, description="the commune's own S3 identity")
    secret_key: SecretStr | None = None
    max_audio_mb: int = Field(
        default=512, ge=1, description="a clip declared larger than this is never downloaded"
    )


class Settings(BaseSettings):
    """Everything a Loa process needs to know, validated when it is built."""

    model_config = SettingsConfigDict(
        env_prefix="LOA_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Path("var")
    database_url: str | None = Field(default=None, description="default: SQLite in data dir")
    organisation: Organisation
    storage: StorageSettings = StorageSettings()
    keys: KeySettings = KeySettings()
    audio: AudioSettings = AudioSettings()
    tts: TTSSettings = TTSSettings()
    publish: PublishSettings = PublishSettings()
    retention: RetentionSettings = RetentionSettings()
    agent: AgentSettings = AgentSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    alerts: AlertSettings = AlertSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the YAML file (passed in as init arguments).
        return env_settings, init_settings

    @property
    def key_dir(self) -> Path:
        return self.keys.dir if self.keys.dir is not None else self.data_dir / "keys"

    @property
    def tts_cache_dir(self) -> Path:
        return self.tts.cache_dir if self.tts.cache_dir is not None else self.data_dir / "tts-cache"

    @property
    def phrasebank_dir(self) -> Path:
        configured = self.tts.phrasebank.dir
        return configured if configured is not None else self.data_dir / "phrasebank"

    @property
    def db_url(self) -> str:
        """``database_url``, or the SQLite file in the data dir."""
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'loa.db').as_posix()}"

    def commune_slots(self, commune_id: str) -> dict[str, Slot]:
        """The slots of one commune: the district's, with the commune's overrides applied."""
        specs: dict[str, SlotSpec | None] = dict(self.schedule.slots)
        specs.update(self.organisation.commune(commune_id).slots)
        default_lead = self.schedule.lead_minutes
        return {
            name: Slot(name, spec, timedelta(minutes=spec.lead_minutes or default_lead))
            for name, spec in sorted(specs.items())
            if spec is not None
        }

    def slot_names(self) -> list[str]:
        """Every slot name the district or any commune defines."""
        names = set(self.schedule.slots)
        for commune in self.organisation.communes:
            names.update(name for name, spec in commune.slots.items() if spec is not None)
        return sorted(names)

    def masked(self) -> dict[str, Any]:
        """The effective configuration as plain data, every secret shown as ``***``."""
        data = self.model_dump(mode="json")
        data["database_url"] = self.db_url
        return dict(_mask(data))


_SECRET_NAMES = ("secret_key", "password")


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {name: _mask(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [_mask(item) for item in value]
    if key in _SECRET_NAMES and value:
        return "***"
    if key == "database_url" and isinstance(value, str) and "@" in value:
        return _mask_url_password(value)
    return value


def _mask_url_password(url: str) -> str:
    scheme, _, rest = url.partition("://")
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
