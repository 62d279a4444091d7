"""The ``loa`` command's entry point: the command line, with the garbage collector kept
out of the way of a short-lived process.

Importing the command line (typer, rich, pydantic, numpy) creates some hundred thousand
objects, and the collector would walk them all several times during the imports and once
more at exit: about 80 ms of a command that processes a clip in five seconds. They live
as long as the process anyway, so the collector is paused while they are made and then
told to leave them alone (``gc.freeze``); it runs as usual for everything made after.
"""

from __future__ import annotations

import gc


def main() -> None:
    gc.disable()
    try:
        from app.cli import main as run  # imported here: with the collector paused
    finally:
        gc.freeze()
        gc.enable()
    try:
        run()
    finally:
        gc.freeze()  # exiting: spare the collector its last walk over everything
