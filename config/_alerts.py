"""Emergency alerts (issue 7): defaults for issuing them, and the routine test schedule.

Routine tests, like the weekly and monthly tests of EAS and J-ALERT, are written as::

    alerts:
      routine:
        weekly-check: {check: silent, when: "Mon 09:00"}
        monthly-test: {check: audible, when: "Wed 10:00", weeks: [1]}

``silent`` checks that every commune's agent is reachable and that a new manifest makes
the round trip (published, fetched, verified, reported) without a sound; ``audible``
broadcasts a clearly announced test alert. ``weeks`` (1-5) narrows a weekly time to those
weeks of the month: ``[1]`` is the first such weekday of each month.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from config._slots import SlotSpec


class RoutineCheckKind(StrEnum):
    SILENT = "silent"
    AUDIBLE = "audible"


class RoutineCheck(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    check: RoutineCheckKind
    when: SlotSpec
    weeks: frozenset[int] | None = Field(
        default=None, description="weeks of the month (1-5) it runs in; default every week"
    )

    @field_validator("weeks")
    @classmethod
    def _weeks_of_month(cls, value: frozenset[int] | None) -> frozenset[int] | None:
        if value is not None and (not value or not value <= frozenset(range(1, 6))):
            raise ValueError(f"weeks {sorted(value)}: weeks of the month are 1 to 5")
        return value


class AlertSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    repeat_every_minutes: float = Field(
        default=120.0,
        ge=1,
        description="replay interval (Decision 18/2021: every 2 h until superseded)",
    )
    expires_hours: float = Field(default=24.0, gt=0, description="expiry when none is given")
    play_window_minutes: float = Field(
        default=30.0, gt=0, description="how late each playback may still start"
    )
    voice_repeats: int = Field(default=3, ge=1, le=10, description="the message, said N times")
    voice_gap_s: float = Field(default=1.0, ge=0, le=10)
    neural_wait_s: float = Field(
        default=3.0,
        ge=0,
        le=10,
        description="Vietnamese: use edge-tts only if it answers within this; 0: never",
    )
    silent_after_s: float = Field(
        default=180.0, gt=0, description="a commune with no heartbeat for this long is silent"
    )
    check_timeout_s: float = Field(
        default=30.0, gt=0, le=600, description="how long a silent check waits for the agents"
    )
    sender: str | None = Field(default=None, description="CAP sender; default <district>@loa")
    routine: dict[str, RoutineCheck] = Field(default_factory=dict)
