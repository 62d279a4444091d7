"""Shared fixtures. Real components only: SeaweedFS, ffmpeg, espeak-ng, SQLite."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from config import EXAMPLE_CONFIG, Settings, load_settings

SHARED_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"


def free_port_block(size: int = 8) -> int:
    """A first port such that ``size`` consecutive loopback ports are free right now."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + size > 65535:
            continue
        if all(_port_is_free(first + offset) for offset in range(size)):
            return first
    raise RuntimeError("no block of free loopback ports found")


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SettingsFactory:
    """Settings of the example district with the data dir under tmp_path.

    Keyword arguments replace whole top-level sections, e.g. ``storage={...}``.
    """
    for name in list(__import__("os").environ):
        if name.startswith("LOA_"):
            monkeypatch.delenv(name)
    base = load_settings(EXAMPLE_CONFIG)

    def build(**overrides: Any) -> Settings:
        data = base.model_dump()
        data["data_dir"] = tmp_path / "var"
        data["database_url"] = None
        data.update(overrides)
        return Settings(**data)

    return build
