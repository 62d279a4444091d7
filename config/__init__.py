"""Settings and the organisation registry. Every other part depends on this one."""

from config._alerts import AlertSettings, RoutineCheck, RoutineCheckKind
from config._errors import ConfigError, LoaError, UserInputError
from config._files import read_user_text
from config._loader import EXAMPLE_CONFIG, config_path, load_settings
from config._registry import Commune, District, Organisation, Province
from config._settings import (
    DEFAULT_AUDIO_PROFILE,
    AgentSettings,
    AudioProfile,
    AudioSettings,
    EdgeSettings,
    EmbeddedStorageSettings,
    EspeakSettings,
    KeySettings,
    PhrasebankSettings,
    PublishSettings,
    RetentionSettings,
    ScheduleSettings,
    Settings,
    StorageSettings,
    TTSSettings,
)
from config._slots import Slot, SlotSpec

__all__ = [
    "DEFAULT_AUDIO_PROFILE",
    "EXAMPLE_CONFIG",
    "AgentSettings",
    "AlertSettings",
    "AudioProfile",
    "AudioSettings",
    "Commune",
    "ConfigError",
    "District",
    "EdgeSettings",
    "EmbeddedStorageSettings",
    "EspeakSettings",
    "KeySettings",
    "LoaError",
    "Organisation",
    "PhrasebankSettings",
    "Province",
    "PublishSettings",
    "RetentionSettings",
    "RoutineCheck",
    "RoutineCheckKind",
    "ScheduleSettings",
    "Settings",
    "Slot",
    "SlotSpec",
    "StorageSettings",
    "TTSSettings",
    "UserInputError",
    "config_path",
    "load_settings",
    "read_user_text",
]
