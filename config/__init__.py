"""Settings and the organisation registry. Every other part depends on this one."""

from config._errors import ConfigError, LoaError, UserInputError
from config._loader import EXAMPLE_CONFIG, config_path, load_settings
from config._registry import Commune, District, Organisation, Province
from config._settings import (
    DEFAULT_AUDIO_PROFILE,
    AgentSettings,
    AudioProfile,
    AudioSettings,
    EmbeddedStorageSettings,
    KeySettings,
    PublishSettings,
    Settings,
    StorageSettings,
    TTSSettings,
)

__all__ = [
    "DEFAULT_AUDIO_PROFILE",
    "EXAMPLE_CONFIG",
    "AgentSettings",
    "AudioProfile",
    "AudioSettings",
    "Commune",
    "ConfigError",
    "District",
    "EmbeddedStorageSettings",
    "KeySettings",
    "LoaError",
    "Organisation",
    "Province",
    "PublishSettings",
    "Settings",
    "StorageSettings",
    "TTSSettings",
    "UserInputError",
    "config_path",
    "load_settings",
]
