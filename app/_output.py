"""Printing for people (Vietnamese, rich) and for programs (JSON on stdout)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

# Piped output (CI logs, `| tee`) is not wrapped at 80 columns: tables stay readable.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
errors = Console(stderr=True, highlight=False)


def print_json(value: Any) -> None:
    """One JSON document on stdout, UTF-8, nothing else."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def print_error(message: str) -> None:
    """One line on stderr: ``loa: lỗi: <what and where>``."""
    errors.print(f"loa: lỗi: {message}", markup=False, soft_wrap=True)
