"""What every command needs: the settings in force, opened once per invocation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from config import Settings, load_settings


@dataclass
class CliContext:
    """Carried in ``typer.Context.obj``; the settings are read on first use."""

    config_file: Path | None = None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_file)
        return self._settings
