"""Printing for people (Vietnamese, rich) and for programs (JSON on stdout)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

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


@contextmanager
def progress_bar(description: str, *, enabled: bool) -> Iterator[Callable[[float], None] | None]:
    """A bar on stderr for long work (when it is a terminal and ``enabled``); yields the
    callback that takes the fraction done, or ``None``."""
    if not enabled or not errors.is_terminal:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
    )
    with Progress(*columns, TimeElapsedColumn(), console=errors, transient=True) as bar:
        task = bar.add_task(description, total=1.0)
        yield lambda fraction: bar.update(task, completed=fraction)
