"""The content part on real SQLite files: workflow, variants, assets, text input, schema."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, String, column, create_engine, select, table, text, update
from sqlalchemy.exc import IntegrityError

from config import LoaError, UserInputError
from content import (
    AuditAction,
    ContentError,
    ContentInputError,
    ContentKind,
    ContentNotFoundError,
    ContentState,
    ContentStateError,
    ContentStore,
    DuplicateVariantError,
    ItemView,
    Priority,
    read_text_file,
)
from content._migrate import VERSION_TABLE, create_database_engine, parse_url
from content._models import Base

BULLETIN_VI = "Bản tin sáng: lịch tiêm chủng cho trẻ em tại trạm y tế xã."
HANOI = timezone(timedelta(hours=7))


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[ContentStore]:
    with ContentStore(db_url, tmp_path / "var" / "assets") as opened:
        yield opened


def add_bulletin(store: ContentStore, language: str = "vi") -> ItemView:
    return store.add_item("bulletin", "Bản tin sáng", language, text=BULLETIN_VI)


def recording(tmp_path: Path, name: str = "ban-tin-tay.mp3", data: bytes = b"ID3 fake") -> Path:
    path = tmp_path / "uploads" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# -- workflow ---------------------------------------------------------------------------


def test_add_list_approve_flow(store: ContentStore) -> None:
    item = add_bulletin(store)
    assert (item.kind, item.priority, item.state) == (
        ContentKind.BULLETIN,
        Priority.NORMAL,
        ContentState.DRAFT,
    )
    assert item.languages == ("vi",)
    assert item.variants[0].text == BULLETIN_VI
    assert [listed.id for listed in store.list_items()] == [item.id]

    approved = store.approve(item.id, "tbt-hoa")

    assert approved.state is ContentState.APPROVED
    assert approved.approved_by == "tbt-hoa"
    assert approved.approved_at is not None and approved.approved_at.tzinfo is UTC
    assert store.list_items(state="draft") == []
    assert [listed.id for listed in store.list_items(state=ContentState.APPROVED)] == [item.id]
    assert store.require_publishable(item.id).id == item.id


def test_ids_count_up_from_one(store: ContentStore) -> None:
    first, second = add_bulletin(store), add_bulletin(store)
    assert (first.id, second.id) == (1, 2)


def test_unapproved_content_is_not_publishable(store: ContentStore) -> None:
    item = add_bulletin(store)
    with pytest.raises(ContentStateError) as caught:
        store.require_publishable(item.id)
    assert str(caught.value) == (
        f"content item {item.id} is 'draft', not approved: only approved content is published"
    )
    assert caught.value.exit_code == 2
    assert isinstance(caught.value, UserInputError)
    assert isinstance(caught.value, ContentError)


def test_withdrawn_content_is_not_publishable(store: ContentStore) -> None:
    item = add_bulletin(store)
    store.approve(item.id, "tbt-hoa")
    withdrawn = store.reject(item.id, "tbt-hoa", "sai ngày tiêm")
    assert withdrawn.state is ContentState.REJECTED
    with pytest.raises(ContentStateError, match="is 'rejected', not approved"):
        store.require_publishable(item.id)


def test_rejected_is_final(store: ContentStore) -> None:
    item = add_bulletin(store)
    store.reject(item.id, "tbt-hoa", "trùng nội dung")
    with pytest.raises(ContentStateError) as caught:
        store.approve(item.id, "tbt-hoa")
    assert str(caught.value) == (
        f"content item {item.id} is 'rejected': it cannot become 'approved' "
        f"(from 'rejected' it can become: nothing (final))"
    )


def test_approving_twice_is_refused(store: ContentStore) -> None:
    item = add_bulletin(store)
    store.approve(item.id, "tbt-hoa")
    with pytest.raises(ContentStateError, match="is 'approved': it cannot become 'approved'"):
        store.approve(item.id, "tbt-hoa")


def test_unknown_id_is_named(store: ContentStore) -> None:
    for action in (
        lambda: store.get(99),
        lambda: store.approve(99, "tbt-hoa"),
        lambda: store.require_publishable(99),
        lambda: store.add_variant(99, "tyz", text="Pài slư"),
    ):
        with pytest.raises(ContentNotFoundError) as caught:
            action()
        assert str(caught.value) == "content item 99 does not exist"
        assert caught.value.exit_code == 2


def test_non_positive_id_is_refused(store: ContentStore) -> None:
    with pytest.raises(ContentInputError, match="content item id 0 is not a positive"):
        store.get(0)


# -- variants ---------------------------------------------------------------------------


def test_second_language_is_added(store: ContentStore) -> None:
    item = add_bulletin(store)
    variant = store.add_variant(item.id, "TYZ ", text="Khảo slư chang bản")
    assert variant.language == "tyz"
    assert store.get(item.id).languages == ("vi", "tyz")


def test_duplicate_variant_is_refused_and_original_kept(store: ContentStore) -> None:
    item = add_bulletin(store)
    with pytest.raises(DuplicateVariantError) as caught:
        store.add_variant(item.id, "VI", text="một văn bản khác")
    assert str(caught.value).startswith(
        f"content item {item.id} already has a variant in language 'vi'"
    )
    variants = store.get(item.id).variants
    assert [(v.language, v.text) for v in variants] == [("vi", BULLETIN_VI)]


def test_variants_are_added_only_to_drafts(store: ContentStore) -> None:
    item = add_bulletin(store)
    store.approve(item.id, "tbt-hoa")
    with pytest.raises(ContentStateError, match="variants can be added only to a draft"):
        store.add_variant(item.id, "tyz", text="Khảo slư")
    assert store.get(item.id).languages == ("vi",)


@pytest.mark.parametrize(
    ("text_value", "with_audio"),
    [(None, False), ("Bản tin", True)],
    ids=["neither", "both"],
)
def test_exactly_one_of_text_or_audio(
    store: ContentStore, tmp_path: Path, text_value: str | None, with_audio: bool
) -> None:
    audio = recording(tmp_path) if with_audio else None
    with pytest.raises(ContentInputError, match="give exactly one of text or audio_file"):
        store.add_item("bulletin", "Bản tin", "vi", text=text_value, audio_file=audio)
    assert store.list_items() == []


def test_text_given_directly_is_normalised(store: ContentStore) -> None:
    nfd = unicodedata.normalize("NFD", "Thông báo\r\nlịch cắt điện ")
    item = store.add_item("announcement", "Thông báo", "vi", text=nfd)
    assert item.variants[0].text == "Thông báo\nlịch cắt điện"
    assert unicodedata.is_normalized("NFC", item.variants[0].text or "")


# -- validation -------------------------------------------------------------------------


def test_bad_kind_names_value_and_choices(store: ContentStore) -> None:
    with pytest.raises(ContentInputError) as caught:
        store.add_item("news", "Bản tin", "vi", text="x")
    assert str(caught.value) == (
        "kind 'news' is not one of: bulletin | announcement | programme | alert | test"
    )


def test_bad_priority_names_value_and_choices(store: ContentStore) -> None:
    with pytest.raises(ContentInputError, match=r"priority 'urgent' is not one of: normal \|"):
        store.add_item("alert", "Bão số 3", "vi", text="x", priority="urgent")


def test_priority_and_kind_are_case_insensitive(store: ContentStore) -> None:
    item = store.add_item(" Alert", "Bão số 3", "vi", text="Bão", priority="EMERGENCY")
    assert (item.kind, item.priority) == (ContentKind.ALERT, Priority.EMERGENCY)


@pytest.mark.parametrize("language", ["vi-VN", "v", "viet", "v1", ""])
def test_bad_language_is_refused(store: ContentStore, language: str) -> None:
    with pytest.raises(ContentInputError, match=f"language {language!r} is not an ISO 639"):
        store.add_item("bulletin", "Bản tin", language, text="x")


def test_empty_or_multiline_title_is_refused(store: ContentStore) -> None:
    with pytest.raises(ContentInputError, match="title is empty"):
        store.add_item("bulletin", "   ", "vi", text="x")
    with pytest.raises(ContentInputError, match="must be one line"):
        store.add_item("bulletin", "Bản tin\nsáng", "vi", text="x")


def test_bad_list_state_is_refused(store: ContentStore) -> None:
    with pytest.raises(ContentInputError, match="state 'published' is not one of"):
        store.list_items(state="published")


# -- audio assets -----------------------------------------------------------------------


def test_audio_is_stored_once_by_content(store: ContentStore, tmp_path: Path) -> None:
    data = b"ID3\x04\x00 a native speaker reads the bulletin"
    first = store.add_item(
        "bulletin", "Bản tin", "tyz", audio_file=recording(tmp_path, "Tày.MP3", data)
    )
    second = store.add_item(
        "bulletin", "Bản tin", "tyz", audio_file=recording(tmp_path, "copy.mp3", data)
    )

    one, two = first.variants[0], second.variants[0]
    assert one.audio_sha256 is not None and one.audio_sha256 == two.audio_sha256
    assert one.audio_path == two.audio_path == f"{one.audio_sha256}.mp3"
    assert (one.audio_filename, two.audio_filename, one.text) == ("Tày.MP3", "copy.mp3", None)
    assert [p.name for p in store.assets_dir.iterdir()] == [f"{one.audio_sha256}.mp3"]
    assert store.asset_path(one.audio_path).read_bytes() == data


def test_identical_asset_is_not_rewritten(store: ContentStore, tmp_path: Path) -> None:
    upload = recording(tmp_path)
    asset = store.asset_path(
        store.add_item("test", "t", "vi", audio_file=upload).variants[0].audio_path or ""
    )
    before = asset.stat().st_mtime_ns, asset.stat().st_ino
    store.add_item("test", "t", "vi", audio_file=upload)
    assert (asset.stat().st_mtime_ns, asset.stat().st_ino) == before


@pytest.mark.parametrize("exists", [False, True], ids=["missing", "empty"])
def test_missing_or_empty_audio_names_the_path(
    store: ContentStore, tmp_path: Path, exists: bool
) -> None:
    path = recording(tmp_path, data=b"") if exists else tmp_path / "nowhere.mp3"
    with pytest.raises(ContentInputError) as caught:
        store.add_item("bulletin", "Bản tin", "hnj", audio_file=path)
    assert str(path) in str(caught.value)
    assert store.list_items() == []


def test_asset_path_refuses_escapes(store: ContentStore) -> None:
    with pytest.raises(ContentInputError, match="is not an asset of this store"):
        store.asset_path("../loa.db")


# -- editors' text files ----------------------------------------------------------------


def write(tmp_path: Path, data: bytes, name: str = "ban-tin.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_read_text_file_refuses_empty(tmp_path: Path) -> None:
    path = write(tmp_path, b"")
    with pytest.raises(ContentInputError) as caught:
        read_text_file(path)
    assert str(caught.value) == f"{path}: the text is empty; there is nothing to read aloud"


def test_read_text_file_refuses_whitespace_only(tmp_path: Path) -> None:
    path = write(tmp_path, b" \r\n\t\n")
    with pytest.raises(ContentInputError, match="the text is only whitespace"):
        read_text_file(path)


def test_read_text_file_refuses_non_utf8_with_offset(tmp_path: Path) -> None:
    cp1258 = unicodedata.normalize("NFD", "Bản tin").encode("cp1258")  # b"Ba\xd2n tin"
    path = write(tmp_path, cp1258)
    with pytest.raises(ContentInputError) as caught:
        read_text_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not UTF-8 text (byte 0xd2 at offset 2)")
    assert caught.value.exit_code == 2


def test_read_text_file_refuses_utf16(tmp_path: Path) -> None:
    path = write(tmp_path, "Bản tin".encode("utf-16"))  # starts b"\xff\xfe"
    with pytest.raises(ContentInputError, match=r"byte 0xff at offset 0"):
        read_text_file(path)


def test_read_text_file_accepts_bom_and_crlf(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbf" + "Dòng một\r\nDòng hai\rDòng ba\r\n".encode())
    assert read_text_file(path) == "Dòng một\nDòng hai\nDòng ba"


def test_read_text_file_offset_counts_the_bom(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbfab\xff")
    with pytest.raises(ContentInputError, match="byte 0xff at offset 5"):
        read_text_file(path)


def test_read_text_file_returns_nfc(tmp_path: Path) -> None:
    nfc = "Nghệ An, thuỷ điện, lũ quét"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    path = write(tmp_path, nfd.encode())
    assert read_text_file(path) == nfc


def test_read_text_file_names_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "khong-co.txt"
    with pytest.raises(ContentInputError, match=f"{path}: no such file"):
        read_text_file(path)


# -- audit, clips, time -----------------------------------------------------------------


def test_audit_trail_records_each_change(store: ContentStore) -> None:
    item = store.add_item("bulletin", "Bản tin", "vi", text=BULLETIN_VI, actor="bt-lan")
    store.add_variant(item.id, "tyz", text="Khảo slư", actor="bt-lan")
    store.reject(item.id, "tbt-hoa", "thiếu bản tiếng Thái")

    trail = store.audit_trail(item.id)

    assert [(e.action, e.actor) for e in trail] == [
        (AuditAction.CREATED, "bt-lan"),
        (AuditAction.VARIANT_ADDED, "bt-lan"),
        (AuditAction.VARIANT_ADDED, "bt-lan"),
        (AuditAction.REJECTED, "tbt-hoa"),
    ]
    assert trail[3].detail == "thiếu bản tiếng Thái"
    assert "language=tyz" in (trail[2].detail or "")


def test_failed_change_leaves_no_audit_event(store: ContentStore) -> None:
    item = add_bulletin(store)
    with pytest.raises(DuplicateVariantError):
        store.add_variant(item.id, "vi", text="khác")
    assert [e.action for e in store.audit_trail(item.id)] == ["created", "variant_added"]


def record(store: ContentStore, item_id: int, sha: str, engine: str = "espeak") -> None:
    store.record_clip(
        item_id,
        "vi",
        key=f"audio/{sha}.mp3",
        sha256=sha,
        bytes=1843200,
        duration_ms=230400,
        lufs=-16.0,
        true_peak_dbtp=-1.6,
        engine=engine,
        voice="vi",
    )


def test_latest_clip_wins(store: ContentStore) -> None:
    item = add_bulletin(store)
    assert item.variants[0].latest_clip is None
    record(store, item.id, "a" * 64, engine="espeak")
    record(store, item.id, "b" * 64, engine="edge")

    clip = store.get(item.id).variants[0].latest_clip

    assert clip is not None
    assert (clip.sha256, clip.engine, clip.key) == ("b" * 64, "edge", f"audio/{'b' * 64}.mp3")
    assert (clip.lufs, clip.true_peak_dbtp, clip.duration_ms) == (-16.0, -1.6, 230400)


def test_clip_for_missing_language_is_refused(store: ContentStore) -> None:
    item = add_bulletin(store)
    with pytest.raises(ContentNotFoundError, match="has no variant in language 'km'"):
        store.record_clip(
            item.id, "km", key="audio/x.mp3", sha256="c" * 64, bytes=1, duration_ms=1,
            lufs=-16.0, true_peak_dbtp=-2.0, engine="edge", voice="km-KH-PisethNeural",
        )  # fmt: skip


def test_bad_clip_values_are_a_content_error(store: ContentStore) -> None:
    item = add_bulletin(store)
    with pytest.raises(ContentError, match="sha256 'XYZ' is not 64 lowercase hex"):
        record(store, item.id, "XYZ")


def test_times_are_stored_and_returned_in_utc(db_url: str, tmp_path: Path) -> None:
    local_six = datetime(2026, 11, 23, 6, 0, tzinfo=HANOI)
    with ContentStore(db_url, tmp_path / "assets", clock=lambda: local_six) as store:
        item = store.approve(add_bulletin(store).id, "tbt-hoa")
    assert item.approved_at == local_six and item.approved_at.tzinfo is UTC
    assert item.updated_at.tzinfo is UTC
    with ContentStore(db_url, tmp_path / "assets") as reopened:
        again = reopened.get(item.id)
    assert again.created_at == local_six
    assert again.created_at.tzinfo is UTC and again.created_at.hour == 23
    assert again.approved_at == local_six


# -- database and schema ----------------------------------------------------------------


def test_reopening_keeps_data_and_migrates_once(db_url: str, tmp_path: Path) -> None:
    with ContentStore(db_url, tmp_path / "assets") as first:
        item = add_bulletin(first)
        first.approve(item.id, "tbt-hoa")
    with ContentStore(db_url, tmp_path / "assets") as second:
        kept = second.get(item.id)
        engine = create_engine(db_url)
        with engine.connect() as connection:
            query = select(column("version_num", String)).select_from(table(VERSION_TABLE))
            versions = list(connection.scalars(query))
        engine.dispose()
    assert (kept.state, kept.variants[0].text) == (ContentState.APPROVED, BULLETIN_VI)
    assert versions == ["0003"]


def test_database_from_a_newer_loa_is_refused(db_url: str, tmp_path: Path) -> None:
    ContentStore(db_url, tmp_path / "assets").close()
    engine = create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(
            update(table(VERSION_TABLE, column("version_num"))).values(version_num="9999")
        )
    engine.dispose()
    with pytest.raises(ContentError, match="schema not usable by this version of Loa") as caught:
        ContentStore(db_url, tmp_path / "assets")
    assert caught.value.exit_code == 1


def test_sqlite_directory_is_created(tmp_path: Path) -> None:
    database = tmp_path / "deep" / "er" / "loa.db"
    with ContentStore(f"sqlite:///{database}", tmp_path / "assets"):
        pass
    assert database.is_file()


def test_bad_arguments_are_refused_when_built(tmp_path: Path) -> None:
    with pytest.raises(ContentInputError, match="database_url 'not a url' is not a database URL"):
        ContentStore("not a url", tmp_path / "assets")
    blocker = write(tmp_path, b"x", "assets")
    with pytest.raises(ContentInputError, match=f"assets dir {blocker} exists and is not a dir"):
        ContentStore(f"sqlite:///{tmp_path / 'loa.db'}", blocker)


def test_store_errors_are_loa_errors(tmp_path: Path) -> None:
    with pytest.raises(LoaError):
        ContentStore("", tmp_path / "assets")


def _ddl(engine: Engine) -> dict[str, set[str]]:
    """Each table's and index's DDL as a set of clauses, ignoring clause order."""
    query = text(
        "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL "
        "AND name NOT LIKE 'sqlite_%' AND name != :version"
    )
    with engine.connect() as connection:
        rows = connection.execute(query, {"version": VERSION_TABLE}).all()
    return {name: {c.strip().rstrip(",") for c in sql.splitlines()} for name, sql in rows}


@pytest.fixture
def migrated_engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    ContentStore(db_url, tmp_path / "assets").close()
    engine = create_database_engine(parse_url(db_url))
    yield engine
    engine.dispose()


def test_migrations_build_exactly_the_models_schema(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        assert compare_metadata(context, Base.metadata) == []


def test_migrations_ddl_matches_models_ddl(sqlite_url: str, tmp_path: Path) -> None:
    # compare_metadata does not see CHECK constraints or AUTOINCREMENT: compare the DDL too.
    ContentStore(sqlite_url, tmp_path / "assets").close()
    migrated = create_engine(sqlite_url)
    from_models = create_engine("sqlite://")
    Base.metadata.create_all(from_models)
    assert _ddl(migrated) == _ddl(from_models)
    assert len(_ddl(from_models)) == 15  # 8 tables, 7 indexes
    migrated.dispose()


def test_database_enforces_its_own_rules(migrated_engine: Engine) -> None:
    item = (
        "INSERT INTO content_items (id, kind, title, priority, state, created_at, updated_at) "
        "VALUES (1, '{kind}', 't', 'normal', 'draft', '2026-01-01', '2026-01-01')"
    )
    variant = (
        "INSERT INTO language_variants (item_id, language, text, audio_path, audio_sha256, "
        "audio_filename, created_at) VALUES ({item_id}, 'vi', 'x', {audio}, '2026-01-01')"
    )
    with migrated_engine.begin() as connection:
        connection.execute(text(item.format(kind="bulletin")))
    refused = [
        item.format(kind="news"),  # not a ContentKind
        variant.format(item_id=4242, audio="NULL, NULL, NULL"),  # no such item
        variant.format(item_id=1, audio="'a.mp3', 'aa', 'a.mp3'"),  # text and audio
    ]
    for statement in refused:
        with pytest.raises(IntegrityError), migrated_engine.begin() as connection:
            connection.execute(text(statement))
