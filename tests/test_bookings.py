"""Slot bookings on real SQLite files: the store's rules, the migration, and `loa content`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from alembic import command
from sqlalchemy import Engine, column, create_engine, inspect, select, table, text
from sqlalchemy.exc import IntegrityError

from config import Settings
from content import (
    AuditAction,
    BookingConflictError,
    ContentInputError,
    ContentNotFoundError,
    ContentState,
    ContentStateError,
    ContentStore,
    ItemView,
    SlotBookingView,
)
from content._migrate import VERSION_TABLE, alembic_config, create_database_engine, parse_url
from tests.cli import one_line_error, run_loa

HANOI = timezone(timedelta(hours=7))
NOW = datetime(2026, 11, 23, 5, 0, tzinfo=HANOI)
MON, TUE, WED, THU, FRI = (date(2026, 11, 23) + timedelta(days=n) for n in range(5))


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[ContentStore]:
    with ContentStore(db_url, tmp_path / "var" / "assets", clock=lambda: NOW) as opened:
        yield opened


def approved(store: ContentStore, title: str = "Bản tin sáng") -> ItemView:
    item = store.add_item("bulletin", title, "vi", text="Lịch tiêm chủng tại trạm y tế xã.")
    return store.approve(item.id, "tbt-hoa")


def book(store: ContentStore, item: ItemView, **options: Any) -> SlotBookingView:
    arguments: dict[str, Any] = {"communes": None, "first_day": MON, "actor": "bt-lan"}
    arguments.update(options)
    slot = arguments.pop("slot", "morning")
    return store.book(item.id, slot, **arguments)


def ids(views: list[SlotBookingView]) -> list[int]:
    return [view.id for view in views]


# -- booking ----------------------------------------------------------------------------


def test_a_booking_defaults_to_one_day_after_the_slots_others(store: ContentStore) -> None:
    item = approved(store)

    booking = book(store, item)

    assert (booking.item_id, booking.slot, booking.communes) == (item.id, "morning", None)
    assert (booking.first_day, booking.last_day, booking.position) == (MON, MON, 10)
    assert (booking.created_by, booking.cancelled_at, booking.is_live) == ("bt-lan", None, True)
    assert booking.created_at == NOW and booking.created_at.tzinfo is UTC
    assert store.bookings() == [booking]


def test_communes_are_kept_in_order(store: ContentStore) -> None:
    booking = book(store, approved(store), communes=["pa-u", "bum-nua"])
    assert booking.communes == ("pa-u", "bum-nua")
    assert store.bookings()[0].communes == ("pa-u", "bum-nua")
    assert booking.targets("bum-nua") and not booking.targets("ka-lang")


def test_targets_and_covers() -> None:
    everywhere = SlotBookingView(
        id=1, item_id=1, slot="morning", communes=None, first_day=TUE, last_day=THU,
        position=10, created_at=NOW, created_by="bt-lan", cancelled_at=None,
    )  # fmt: skip
    assert everywhere.targets("ka-lang") and everywhere.targets("any-commune")
    assert [everywhere.covers(day) for day in (MON, TUE, WED, THU, FRI)] == [
        False, True, True, True, False,
    ]  # fmt: skip


def test_default_position_counts_live_bookings_on_overlapping_days(store: ContentStore) -> None:
    first, second, third, fourth, fifth = (approved(store, f"Tin {n}") for n in range(5))
    assert book(store, first, last_day=WED).position == 10
    assert book(store, second, first_day=WED).position == 20  # after first, on Wednesday
    assert book(store, third, first_day=THU).position == 10  # nobody else on Thursday
    assert book(store, fourth, slot="evening", first_day=WED).position == 10  # other slot
    store.unbook(2, "bt-lan")
    assert book(store, fifth, first_day=WED).position == 20  # the cancelled 20 is free again


def test_a_given_position_is_kept(store: ContentStore) -> None:
    book(store, approved(store))
    assert book(store, approved(store), position=0).position == 0
    assert book(store, approved(store)).position == 20  # after the highest live, not the last


def test_booked_for_orders_by_position_then_booking_id(store: ContentStore) -> None:
    late, early, tie = (approved(store, title) for title in ("Muộn", "Sớm", "Cùng thứ tự"))
    book(store, late, position=30, last_day=WED)
    book(store, early, position=10, last_day=WED)
    book(store, tie, position=10)
    book(store, approved(store, "Khung khác"), slot="evening", position=1)

    monday = store.booked_for("morning", MON)
    tuesday = store.booked_for("morning", TUE)

    assert [(booked.item.title, booked.booking.position) for booked in monday] == [
        ("Sớm", 10), ("Cùng thứ tự", 10), ("Muộn", 30),
    ]  # fmt: skip
    assert [booked.item.title for booked in tuesday] == ["Sớm", "Muộn"]
    assert monday[0].item.variants[0].text == "Lịch tiêm chủng tại trạm y tế xã."
    assert store.booked_for("morning", FRI) == []


def test_an_overlapping_booking_is_refused_naming_the_existing_one(store: ContentStore) -> None:
    item = approved(store)
    existing = book(store, item, last_day=WED)

    with pytest.raises(BookingConflictError) as caught:
        book(store, item, first_day=WED, last_day=FRI, communes=["ka-lang"])

    assert str(caught.value) == (
        f"content item {item.id} is already booked in slot 'morning' from 2026-11-23 to "
        f"2026-11-25 (booking {existing.id}); unbook it first or choose other days"
    )
    assert caught.value.exit_code == 2
    assert ids(store.bookings()) == [existing.id]
    assert [e.action for e in store.audit_trail(item.id)].count(AuditAction.BOOKED) == 1


def test_other_days_other_slots_and_cancelled_bookings_do_not_conflict(
    store: ContentStore,
) -> None:
    item = approved(store)
    first = book(store, item, last_day=WED)
    book(store, item, first_day=THU, last_day=FRI)
    book(store, item, slot="evening", last_day=FRI)
    store.unbook(first.id, "bt-lan")
    again = book(store, item, first_day=TUE)
    assert len(store.bookings()) == 3 and again.position == 10


@pytest.mark.parametrize("withdraw", [False, True], ids=["draft", "rejected"])
def test_only_approved_items_are_booked(store: ContentStore, withdraw: bool) -> None:
    item = store.add_item("bulletin", "Bản tin", "vi", text="Bản tin sáng.")
    state = "draft"
    if withdraw:
        store.reject(item.id, "tbt-hoa", "sai ngày")
        state = "rejected"
    with pytest.raises(ContentStateError) as caught:
        book(store, item)
    assert str(caught.value) == (
        f"content item {item.id} is '{state}', not approved: "
        f"only approved content is booked into slots"
    )
    assert store.bookings(include_cancelled=True) == []


def test_an_unknown_item_is_named(store: ContentStore) -> None:
    with pytest.raises(ContentNotFoundError, match=r"^content item 42 does not exist$"):
        store.book(42, "morning", communes=None, first_day=MON, actor="bt-lan")
    with pytest.raises(ContentNotFoundError, match=r"^content item 42 does not exist$"):
        store.bookings(item_id=42)


def test_an_item_withdrawn_after_booking_drops_out_of_booked_for(store: ContentStore) -> None:
    kept, withdrawn = approved(store, "Giữ"), approved(store, "Rút")
    book(store, kept)
    booking = book(store, withdrawn)

    store.reject(withdrawn.id, "tbt-hoa", "thông tin sai")

    assert [booked.item.title for booked in store.booked_for("morning", MON)] == ["Giữ"]
    assert booking.id in ids(store.bookings())  # the booking itself stays, live


# -- cancelling -------------------------------------------------------------------------


def test_unbook_cancels_and_keeps_the_booking(store: ContentStore) -> None:
    item = approved(store)
    booking = book(store, item)

    cancelled = store.unbook(booking.id, "tbt-hoa")

    assert (cancelled.cancelled_at, cancelled.cancelled_by) == (NOW, "tbt-hoa")
    assert not cancelled.is_live
    assert store.booked_for("morning", MON) == []
    assert store.bookings() == []
    assert store.bookings(include_cancelled=True) == [cancelled]


def test_unbooking_twice_or_an_unknown_booking_is_refused(store: ContentStore) -> None:
    booking = book(store, approved(store))
    store.unbook(booking.id, "tbt-hoa")
    with pytest.raises(ContentStateError) as caught:
        store.unbook(booking.id, "bt-lan")
    assert str(caught.value) == (
        f"booking {booking.id} was already cancelled at {NOW.astimezone(UTC).isoformat()} "
        f"by tbt-hoa"
    )
    assert store.bookings(include_cancelled=True)[0].cancelled_by == "tbt-hoa"
    with pytest.raises(ContentNotFoundError, match=r"^booking 99 does not exist$"):
        store.unbook(99, "bt-lan")


def test_booking_and_cancelling_are_audited(store: ContentStore) -> None:
    item = approved(store)
    booking = book(store, item, communes=["bum-nua", "pa-u"], last_day=WED)
    store.unbook(booking.id, "tbt-hoa")

    trail = store.audit_trail(item.id)

    assert [(event.action, event.actor) for event in trail[-2:]] == [
        (AuditAction.BOOKED, "bt-lan"),
        (AuditAction.UNBOOKED, "tbt-hoa"),
    ]
    detail = (
        f"booking={booking.id} slot=morning days=2026-11-23..2026-11-25 "
        f"communes=bum-nua,pa-u position=10"
    )
    assert (trail[-2].detail, trail[-1].detail) == (detail, detail)


# -- listing ----------------------------------------------------------------------------


def test_bookings_filters(store: ContentStore) -> None:
    one, two = approved(store), approved(store)
    a = book(store, one, last_day=TUE)
    b = book(store, two, slot="evening", first_day=TUE, last_day=THU)
    c = book(store, two, first_day=WED)
    store.unbook(c.id, "bt-lan")

    assert ids(store.bookings()) == [a.id, b.id]  # by first day
    assert ids(store.bookings(include_cancelled=True)) == [a.id, b.id, c.id]
    assert ids(store.bookings(item_id=two.id)) == [b.id]
    assert ids(store.bookings(slot="morning", include_cancelled=True)) == [a.id, c.id]
    assert ids(store.bookings(day=TUE)) == [a.id, b.id]
    assert ids(store.bookings(day=WED, slot="evening")) == [b.id]
    assert store.bookings(day=FRI) == []


# -- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"slot": "Morning"}, "slot 'Morning' is not a slot name"),
        ({"slot": ""}, "slot '' is not a slot name"),
        ({"communes": []}, "communes is an empty list"),
        ({"communes": "bum-nua"}, "communes 'bum-nua' must be a list of commune ids"),
        ({"communes": ["bum-nua", "Pa Ủ"]}, "communes: 'Pa Ủ' is not a commune id"),
        ({"communes": ["pa-u", "bum-nua", "pa-u"]}, "communes: pa-u listed more than once"),
        ({"first_day": TUE, "last_day": MON}, "last_day 2026-11-23 is before first_day 2026-11-24"),
        ({"first_day": NOW}, "first_day datetime.datetime(2026, 11, 23, 5, 0, tzinfo="),
        ({"first_day": "2026-11-23"}, "first_day '2026-11-23' is not a calendar date"),
        ({"position": -1}, "position -1 is not a whole number from 0 to 1000000"),
        ({"position": True}, "position True is not a whole number"),
        ({"actor": " "}, "actor is empty"),
    ],
)
def test_bad_input_is_named_and_nothing_is_stored(
    store: ContentStore, options: dict[str, Any], message: str
) -> None:
    item = approved(store)
    with pytest.raises(ContentInputError) as caught:
        book(store, item, **options)
    assert str(caught.value).startswith(message)
    assert caught.value.exit_code == 2
    assert store.bookings(include_cancelled=True) == []
    assert AuditAction.BOOKED not in [event.action for event in store.audit_trail(item.id)]


def test_bad_reading_arguments_are_named(store: ContentStore) -> None:
    with pytest.raises(ContentInputError, match=r"^slot 'Sáng' is not a slot name"):
        store.booked_for("Sáng", MON)
    with pytest.raises(ContentInputError, match=r"^day '2026-11-23' is not a calendar date$"):
        store.bookings(day="2026-11-23")  # type: ignore[arg-type]
    with pytest.raises(ContentInputError, match=r"^booking id 0 is not a positive whole number"):
        store.unbook(0, "bt-lan")


def test_the_database_enforces_its_own_rules(store: ContentStore, db_url: str) -> None:
    item = approved(store)
    insert = (
        "INSERT INTO slot_bookings (item_id, slot, first_day, last_day, position, created_at, "
        "created_by, cancelled_at, cancelled_by) VALUES ({item}, 'morning', '{first}', "
        "'{last}', {position}, '2026-11-23 00:00:00', 'x', {cancelled})"
    )
    good: dict[str, object] = {
        "item": item.id, "first": MON, "last": TUE, "position": 10, "cancelled": "NULL, NULL",
    }  # fmt: skip
    refused: list[dict[str, object]] = [
        {"last": "2026-11-22"},  # ends before it starts
        {"position": -1},
        {"cancelled": "'2026-11-23 00:00:00', NULL"},  # cancelled by nobody
        {"item": 4242},  # no such item
    ]
    engine = create_database_engine(parse_url(db_url))  # SQLite: foreign keys enforced
    with engine.begin() as connection:
        connection.execute(text(insert.format(**good)))
    for change in refused:
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text(insert.format(**{**good, **change})))
    engine.dispose()


# -- migration --------------------------------------------------------------------------


def migrate(url: str, direction: Callable[..., None], revision: str) -> None:
    engine = create_database_engine(parse_url(url))
    with engine.begin() as connection:
        direction(alembic_config(engine.url, connection), revision)
    engine.dispose()


def tables_and_version(url: str) -> tuple[set[str], str]:
    engine: Engine = create_engine(url)
    with engine.connect() as connection:
        version = connection.scalar(select(column("version_num")).select_from(table(VERSION_TABLE)))
    names = set(inspect(engine).get_table_names()) - {VERSION_TABLE}
    engine.dispose()
    return names, str(version)


OLD_TABLES = {"content_items", "language_variants", "rendered_clips", "audit_events"}


def test_upgrading_a_0001_database_keeps_its_data(db_url: str, tmp_path: Path) -> None:
    migrate(db_url, command.upgrade, "0001")
    engine = create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO content_items (kind, title, priority, state, created_at, "
                "updated_at, approved_at, approved_by) VALUES ('bulletin', 'Bản tin cũ', "
                "'normal', 'approved', '2026-11-20 01:00:00', '2026-11-20 01:00:00', "
                "'2026-11-20 02:00:00', 'tbt-hoa')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO language_variants (item_id, language, text, created_at) "
                "VALUES (1, 'vi', 'Văn bản cũ.', '2026-11-20 01:00:00')"
            )
        )
    engine.dispose()
    assert tables_and_version(db_url) == (OLD_TABLES, "0001")

    with ContentStore(db_url, tmp_path / "assets", clock=lambda: NOW) as upgraded:
        old = upgraded.get(1)
        booking = upgraded.book(1, "morning", communes=None, first_day=MON, actor="bt-lan")
        booked = upgraded.booked_for("morning", MON)

    assert (old.title, old.state, old.variants[0].text) == (
        "Bản tin cũ",
        ContentState.APPROVED,
        "Văn bản cũ.",
    )
    assert [(b.item.id, b.booking.id) for b in booked] == [(1, booking.id)]
    alert_tables = {"alerts", "alert_clips", "alert_deliveries"}
    assert tables_and_version(db_url) == (OLD_TABLES | {"slot_bookings"} | alert_tables, "0003")


def test_downgrading_drops_only_the_bookings(db_url: str, tmp_path: Path) -> None:
    with ContentStore(db_url, tmp_path / "assets", clock=lambda: NOW) as store:
        item = approved(store)
        book(store, item)

    migrate(db_url, command.downgrade, "0001")

    assert tables_and_version(db_url) == (OLD_TABLES, "0001")
    with ContentStore(db_url, tmp_path / "assets") as upgraded_again:
        assert upgraded_again.get(item.id).state is ContentState.APPROVED
        assert upgraded_again.bookings(include_cancelled=True) == []
        assert AuditAction.BOOKED in [e.action for e in upgraded_again.audit_trail(item.id)]
    assert tables_and_version(db_url)[1] == "0003"


# -- the CLI ----------------------------------------------------------------------------


@pytest.fixture
def cli_settings(make_settings: Callable[..., Settings]) -> Settings:
    """The example district with morning and evening slots; Pa Ủ has no evening slot."""
    organisation = make_settings().organisation.model_dump(mode="json")
    for commune in organisation["communes"]:
        if commune["id"] == "pa-u":
            commune["slots"] = {"evening": "off"}
    slots = {"morning": "06:00 daily, 30 min", "evening": "17:00 daily, 30 min"}
    return make_settings(organisation=organisation, schedule={"slots": slots})


@pytest.fixture
def env(cli_settings: Settings, tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "loa.yaml"
    data = cli_settings.model_dump(mode="json")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return {"LOA_CONFIG": str(path)}


@pytest.fixture
def cli_store(cli_settings: Settings) -> Iterator[ContentStore]:
    with ContentStore(cli_settings.db_url, cli_settings.data_dir / "assets") as opened:
        yield opened


def loa_json(env: dict[str, str], *args: str) -> Any:
    result = run_loa("content", *args, "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_cli_books_lists_and_unbooks(env: dict[str, str], cli_store: ContentStore) -> None:
    item = approved(cli_store)
    args = ("--slot", "morning", "--communes", "all", "--from", "2026-11-23")
    placed = run_loa("content", "book", str(item.id), *args, "--until", "2026-11-25", env=env)
    assert placed.returncode == 0, placed.stderr
    assert placed.stdout == (
        f"Đã xếp nội dung số {item.id} vào khung morning từ 23/11/2026 đến 25/11/2026 "
        f"cho mọi xã (thứ tự 10); mã đặt lịch 1\n"
    )

    evening = loa_json(
        env, "book", str(item.id), "--slot", "evening", "--communes", "bum-nua, ka-lang",
        "--from", "2026-11-24", "--position", "5", "--by", "bt-lan",
    )  # fmt: skip

    assert {key: evening[key] for key in ("id", "slot", "communes", "position")} == {
        "id": 2, "slot": "evening", "communes": ["bum-nua", "ka-lang"], "position": 5,
    }  # fmt: skip
    assert (evening["first_day"], evening["last_day"]) == ("2026-11-24", "2026-11-24")
    assert (evening["created_by"], evening["cancelled_at"]) == ("bt-lan", None)

    table = run_loa("content", "bookings", "--day", "2026-11-24", env=env)
    assert table.returncode == 0, table.stderr
    assert "Thứ tự" in table.stdout and "Trạng thái" in table.stdout
    assert "mọi xã" in table.stdout and "bum-nua, ka-lang" in table.stdout

    cancelled = run_loa("content", "unbook", "1", "--by", "tbt-hoa", env=env)
    assert cancelled.stdout == (
        "Đã hủy đặt lịch số 1 (nội dung số 1, khung morning từ 23/11/2026 đến 25/11/2026).\n"
    )
    assert [b["id"] for b in loa_json(env, "bookings")] == [2]
    every = loa_json(env, "bookings", "--all", "--slot", "morning", "--item", str(item.id))
    assert [(b["id"], b["cancelled_by"]) for b in every] == [(1, "tbt-hoa")]
    assert [b.booking.id for b in cli_store.booked_for("evening", TUE)] == [2]


def test_cli_names_the_communes_of_a_booking(env: dict[str, str], cli_store: ContentStore) -> None:
    item = approved(cli_store)
    args = ("--slot", "morning", "--communes", "pa-u,bum-nua", "--from", "2026-11-23")
    result = run_loa("content", "book", str(item.id), *args, env=env)
    assert result.stdout == (
        f"Đã xếp nội dung số {item.id} vào khung morning ngày 23/11/2026 cho xã Pa Ủ, Bum Nưa "
        f"(thứ tự 10); mã đặt lịch 1\n"
    )


BOOK = ("content", "book", "1", "--slot", "morning", "--communes", "all")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((*BOOK, "--from", "23/11/2026"), "--from '23/11/2026': not a date in the form YYYY-MM-DD"),
        ((*BOOK, "--from", "2026-11-23", "--until", "2026-02-30"), "--until '2026-02-30': no such"),
        ((*BOOK, "--from", "2026-11-25", "--until", "2026-11-23"), "last_day 2026-11-23 is before"),
        ((*BOOK, "--from", "2026-11-23", "--position", "-5"), "position -5 is not a whole number"),
        (
            ("content", "book", "1", "--slot", "noon", "--communes", "all", "--from", "2026-11-23"),
            "--slot 'noon': not a slot of district 'muong-te' (slots: evening, morning)",
        ),
        (
            ("content", "book", "1", "--slot", "evening", "--communes", "bum-nua,pa-u",
             "--from", "2026-11-23"),
            "--slot 'evening': commune 'pa-u' has no such slot (its slots: morning)",
        ),
        (
            ("content", "book", "1", "--slot", "morning", "--communes", "bum-nua,ha-noi",
             "--from", "2026-11-23"),
            "unknown commune 'ha-noi': not in district 'muong-te'",
        ),
        (
            ("content", "book", "2", "--slot", "morning", "--communes", "all",
             "--from", "2026-11-23"),
            "content item 2 is 'draft', not approved",
        ),
        ((*BOOK, "--from", "2026-11-23"), "content item 1 is already booked in slot 'morning'"),
        (("content", "bookings", "--day", "tomorrow"), "--day 'tomorrow': not a date in the form"),
        (("content", "unbook", "7"), "booking 7 does not exist"),
    ],
)  # fmt: skip
def test_cli_refusals_are_one_line_and_exit_2(
    env: dict[str, str], cli_store: ContentStore, args: tuple[str, ...], message: str
) -> None:
    item = approved(cli_store)
    cli_store.add_item("bulletin", "Bản nháp", "vi", text="Chưa duyệt.")
    cli_store.book(item.id, "morning", communes=None, first_day=date(2026, 11, 22),
                   last_day=date(2026, 11, 23), actor="bt-lan")  # fmt: skip

    result = run_loa(*args, env=env)

    assert result.returncode == 2, result.stderr
    assert one_line_error(result).startswith(f"loa: lỗi: {message}")
    assert result.stdout == ""
    assert len(cli_store.bookings(include_cancelled=True)) == 1
