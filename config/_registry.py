"""The organisation registry: province → district → communes → loudspeaker clusters."""

from __future__ import annotations

import re
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from config._slots import SLOT_NAME_PATTERN, SlotSpec

_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
_LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}$")
_ADMIN_CODE_PATTERN = r"^[0-9]{5}$"  # ASCII only: \d would also match other scripts' digits


def _cluster_ids(value: object) -> object:
    """Accept ``clusters: 6`` (a count) as well as an explicit list of cluster ids."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ValueError("a commune has at least one loudspeaker cluster")
        return [f"cum-{number}" for number in range(1, value + 1)]
    return value


def _check_languages(languages: list[str]) -> list[str]:
    for code in languages:
        if not _LANGUAGE_PATTERN.match(code):
            raise ValueError(f"{code!r} is not an ISO 639-1/-3 language code")
    if len(set(languages)) != len(languages):
        raise ValueError("a language is listed twice")
    return languages


def _admin_code_text(value: object) -> object:
    """YAML reads an unquoted ``03187`` as an (octal) number: ask for the quoted code."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError("write the administrative unit code quoted, e.g. '03187'")
    return value


def _check_centroid(centroid: tuple[float, float] | None) -> tuple[float, float] | None:
    if centroid is None:
        return None
    latitude, longitude = centroid
    if not -90.0 <= latitude <= 90.0:
        raise ValueError(f"latitude {latitude} is outside -90..90 degrees")
    if not -180.0 <= longitude <= 180.0:
        raise ValueError(f"longitude {longitude} is outside -180..180 degrees")
    return centroid


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Province(_Strict):
    id: str = Field(pattern=_ID_PATTERN)
    name: str = Field(min_length=1)


class Commune(_Strict):
    id: str = Field(pattern=_ID_PATTERN)
    name: str = Field(min_length=1)
    clusters: Annotated[list[str], BeforeValidator(_cluster_ids)] = Field(
        default_factory=lambda: ["cum-1"], min_length=1
    )
    languages: list[str] = Field(default_factory=lambda: ["vi"], min_length=1)
    slots: dict[str, SlotSpec | None] = Field(
        default_factory=dict,
        description="overrides of the district's slots; null (or off) drops one here",
    )
    admin_code: Annotated[str | None, BeforeValidator(_admin_code_text)] = Field(
        default=None,
        pattern=_ADMIN_CODE_PATTERN,
        description="the official administrative unit code (mã đơn vị hành chính), 5 digits",
    )
    centroid: tuple[float, float] | None = Field(
        default=None, description="latitude, longitude of the commune's centre, in degrees"
    )

    _languages = field_validator("languages")(_check_languages)
    _centroid = field_validator("centroid")(_check_centroid)

    @field_validator("slots", mode="before")
    @classmethod
    def _off_is_none(cls, value: object) -> object:
        if isinstance(value, dict):
            return {name: None if spec in ("off", False) else spec for name, spec in value.items()}
        return value

    @field_validator("slots")
    @classmethod
    def _slot_names(cls, value: dict[str, SlotSpec | None]) -> dict[str, SlotSpec | None]:
        for name in value:
            check_slot_name(name)
        return value


def check_slot_name(name: str) -> str:
    if not re.match(SLOT_NAME_PATTERN, name):
        raise ValueError(f"slot name {name!r}: lower-case letters, digits and '-' only")
    return name


class District(_Strict):
    id: str = Field(pattern=_ID_PATTERN)
    name: str = Field(min_length=1)
    timezone: str = "Asia/Ho_Chi_Minh"
    languages: list[str] = Field(default_factory=lambda: ["vi"], min_length=1)

    _languages = field_validator("languages")(_check_languages)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {name!r}") from error
        return name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Organisation(_Strict):
    """One district media centre's registry of the communes it serves."""

    province: Province
    district: District
    communes: list[Commune] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_commune_ids(self) -> Organisation:
        seen: set[str] = set()
        for commune in self.communes:
            if commune.id in seen:
                raise ValueError(f"commune id {commune.id!r} is listed twice")
            seen.add(commune.id)
        return self

    def commune(self, commune_id: str) -> Commune:
        """The commune with this id; ``KeyError`` names it when it is not registered."""
        for commune in self.communes:
            if commune.id == commune_id:
                return commune
        raise KeyError(commune_id)

    def commune_ids(self) -> list[str]:
        return [commune.id for commune in self.communes]
