"""Slot bookings: the rules behind ``ContentStore.book``, ``unbook`` and ``booked_for``.

The store does not know the registry: slot names and commune ids are checked here for
their form only; the CLI checks that they exist in the district's configuration.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session, contains_eager

from content._enums import ContentState
from content._errors import BookingConflictError, ContentInputError, ContentStateError
from content._models import ContentItem, LanguageVariant, SlotBooking
from content._validation import parse_line

# The registry's id form (config: organisation ids and slot names).
ID_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
# A default position leaves room to slot another item in between by hand.
POSITION_STEP: Final = 10
POSITION_MAX: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class BookingRequest:
    """A booking's input, checked; ``position`` ``None`` is after the slot's others."""

    slot: str
    communes: tuple[str, ...] | None
    first_day: date
    last_day: date
    position: int | None
    actor: str


def parse_request(
    slot: object,
    communes: object,
    first_day: object,
    last_day: object | None,
    position: object | None,
    actor: object,
) -> BookingRequest:
    first = parse_day("first_day", first_day)
    last = first if last_day is None else parse_day("last_day", last_day)
    if last < first:
        raise ContentInputError(
            f"last_day {last.isoformat()} is before first_day {first.isoformat()}"
        )
    return BookingRequest(
        slot=parse_slot(slot),
        communes=parse_communes(communes),
        first_day=first,
        last_day=last,
        position=None if position is None else parse_position(position),
        actor=parse_line("actor", actor),
    )


def parse_slot(value: object) -> str:
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise ContentInputError(
            f"slot {value!r} is not a slot name (lower-case letters, digits and '-', e.g. morning)"
        )
    return value


def parse_communes(value: object) -> tuple[str, ...] | None:
    """``None`` (every commune) or a non-empty list of distinct commune ids."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ContentInputError(
            f"communes {value!r} must be a list of commune ids, or None for every commune"
        )
    ids = tuple(value)
    if not ids:
        raise ContentInputError("communes is an empty list: name at least one commune id")
    for commune_id in ids:
        if not isinstance(commune_id, str) or not ID_PATTERN.fullmatch(commune_id):
            raise ContentInputError(f"communes: {commune_id!r} is not a commune id")
    repeated = sorted({one for one in ids if ids.count(one) > 1})
    if repeated:
        raise ContentInputError(f"communes: {', '.join(repeated)} listed more than once")
    return ids


def parse_day(field: str, value: object) -> date:
    # datetime is a date too; its time of day would be silently dropped.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ContentInputError(f"{field} {value!r} is not a calendar date")
    return value


def parse_position(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= POSITION_MAX:
        raise ContentInputError(
            f"position {value!r} is not a whole number from 0 to {POSITION_MAX}"
        )
    return value


def parse_booking_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ContentInputError(f"booking id {value!r} is not a positive whole number")
    return value


# -- queries ------------------------------------------------------------------------------


def is_live() -> ColumnElement[bool]:
    return SlotBooking.cancelled_at.is_(None)


def covering(day: date) -> ColumnElement[bool]:
    return and_(SlotBooking.first_day <= day, SlotBooking.last_day >= day)


def overlapping(first: date, last: date) -> ColumnElement[bool]:
    return and_(SlotBooking.first_day <= last, SlotBooking.last_day >= first)


def find_conflict(session: Session, item_id: int, request: BookingRequest) -> SlotBooking | None:
    """A live booking of the item in the same slot on any of the requested days."""
    query = (
        select(SlotBooking)
        .where(SlotBooking.item_id == item_id, SlotBooking.slot == request.slot, is_live())
        .where(overlapping(request.first_day, request.last_day))
        .order_by(SlotBooking.id)
        .limit(1)
    )
    return session.scalars(query).first()


def next_position(session: Session, request: BookingRequest) -> int:
    """After every live booking of the slot on any of the requested days."""
    query = (
        select(func.max(SlotBooking.position))
        .where(SlotBooking.slot == request.slot, is_live())
        .where(overlapping(request.first_day, request.last_day))
    )
    highest = session.scalar(query)
    return (highest or 0) + POSITION_STEP


def listing(
    item_id: int | None, slot: str | None, day: date | None, include_cancelled: bool
) -> Select[SlotBooking]:
    query = select(SlotBooking).order_by(
        SlotBooking.first_day, SlotBooking.slot, SlotBooking.position, SlotBooking.id
    )
    if item_id is not None:
        query = query.where(SlotBooking.item_id == item_id)
    if slot is not None:
        query = query.where(SlotBooking.slot == parse_slot(slot))
    if day is not None:
        query = query.where(covering(parse_day("day", day)))
    if not include_cancelled:
        query = query.where(is_live())
    return query


def playing(slot: str, day: date) -> Select[SlotBooking]:
    """The live bookings of ``slot`` on ``day`` whose item is approved, items loaded."""
    return (
        select(SlotBooking)
        .join(SlotBooking.item)
        .where(SlotBooking.slot == parse_slot(slot), covering(parse_day("day", day)))
        .where(is_live(), ContentItem.state == ContentState.APPROVED)
        .options(
            contains_eager(SlotBooking.item)
            .selectinload(ContentItem.variants)
            .selectinload(LanguageVariant.clips)
        )
        .order_by(SlotBooking.position, SlotBooking.id)
    )


def check_live(booking: SlotBooking) -> None:
    if booking.cancelled_at is not None:
        raise ContentStateError(
            f"booking {booking.id} was already cancelled at "
            f"{booking.cancelled_at.isoformat()} by {booking.cancelled_by}"
        )


def conflict_error(item_id: int, existing: SlotBooking) -> BookingConflictError:
    return BookingConflictError(
        f"content item {item_id} is already booked in slot '{existing.slot}' from "
        f"{existing.first_day.isoformat()} to {existing.last_day.isoformat()} "
        f"(booking {existing.id}); unbook it first or choose other days"
    )


def describe(booking: SlotBooking) -> str:
    """The audit trail's detail of a booking."""
    communes = "all" if booking.communes is None else ",".join(booking.communes)
    return (
        f"booking={booking.id} slot={booking.slot} days={booking.first_day.isoformat()}.."
        f"{booking.last_day.isoformat()} communes={communes} position={booking.position}"
    )
