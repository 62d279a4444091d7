"""The ``loa`` command starts cheaply: heavy parts load only in the commands that use them."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from app import _entry
from app._cli_content import PriorityChoice
from playout import Priority

HEAVY_MODULES = (
    "sqlalchemy", "alembic", "boto3", "botocore", "content", "playout", "scipy", "aiohttp",
    "edge_tts",
)  # fmt: skip


def test_cli_priority_choices_are_the_manifest_priorities() -> None:
    assert [choice.value for choice in PriorityChoice] == [level.value for level in Priority]


def test_importing_the_cli_loads_no_database_storage_or_scipy_code() -> None:
    probe = f"import sys, app.cli; print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_command_runs_with_the_collector_on_and_the_imports_frozen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[bool, int]] = []
    monkeypatch.setattr(
        "app.cli.main", lambda: seen.append((gc.isenabled(), gc.get_freeze_count()))
    )
    try:
        _entry.main()
    finally:
        gc.unfreeze()
    ((enabled, frozen),) = seen
    assert enabled  # long-running commands (loa up, loa agent run) still collect garbage
    assert frozen > 10_000  # what the imports made is left alone
