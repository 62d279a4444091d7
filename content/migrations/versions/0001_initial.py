"""The editorial schema: items, language variants, rendered clips, audit events.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Written out in full, not imported from the models: a revision is a record of the schema
as it was, and must not change when the models do.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _choice(table: str, column: str, *values: str) -> sa.Enum:
    return sa.Enum(
        *values,
        name=op.f(f"ck_{table}_{column}"),
        native_enum=False,
        create_constraint=True,
        length=16,
    )


def _instant() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    _create_content_items()
    _create_audit_events()
    _create_language_variants()
    _create_rendered_clips()


def _create_content_items() -> None:
    kinds = ("bulletin", "announcement", "programme", "alert", "test")
    op.create_table(
        "content_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", _choice("content_items", "kind", *kinds), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column(
            "priority",
            _choice("content_items", "priority", "normal", "priority", "emergency"),
            nullable=False,
        ),
        sa.Column(
            "state",
            _choice("content_items", "state", "draft", "approved", "rejected"),
            nullable=False,
        ),
        sa.Column("created_at", _instant(), nullable=False),
        sa.Column("updated_at", _instant(), nullable=False),
        sa.Column("approved_at", _instant(), nullable=True),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_items")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_content_items_state"), "content_items", ["state"])


def _create_audit_events() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("at", _instant(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["content_items.id"],
            name=op.f("fk_audit_events_item_id_content_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_item_id"), "audit_events", ["item_id"])


def _create_language_variants() -> None:
    op.create_table(
        "language_variants",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=3), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("audio_path", sa.String(length=80), nullable=True),
        sa.Column("audio_sha256", sa.String(length=64), nullable=True),
        sa.Column("audio_filename", sa.String(length=255), nullable=True),
        sa.Column("created_at", _instant(), nullable=False),
        sa.CheckConstraint(
            "(text IS NOT NULL AND audio_path IS NULL AND audio_sha256 IS NULL"
            " AND audio_filename IS NULL)"
            " OR (text IS NULL AND audio_path IS NOT NULL AND audio_sha256 IS NOT NULL"
            " AND audio_filename IS NOT NULL)",
            name=op.f("ck_language_variants_text_xor_audio"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["content_items.id"],
            name=op.f("fk_language_variants_item_id_content_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_language_variants")),
        sa.UniqueConstraint(
            "item_id", "language", name=op.f("uq_language_variants_item_id_language")
        ),
    )


def _create_rendered_clips() -> None:
    op.create_table(
        "rendered_clips",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("variant_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("lufs", sa.Float(), nullable=False),
        sa.Column("true_peak_dbtp", sa.Float(), nullable=False),
        sa.Column("engine", sa.String(length=40), nullable=False),
        sa.Column("voice", sa.String(length=100), nullable=False),
        sa.Column("created_at", _instant(), nullable=False),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["language_variants.id"],
            name=op.f("fk_rendered_clips_variant_id_language_variants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rendered_clips")),
    )
    op.create_index(op.f("ix_rendered_clips_variant_id"), "rendered_clips", ["variant_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_rendered_clips_variant_id"), table_name="rendered_clips")
    op.drop_table("rendered_clips")
    op.drop_table("language_variants")
    op.drop_index(op.f("ix_audit_events_item_id"), table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_index(op.f("ix_content_items_state"), table_name="content_items")
    op.drop_table("content_items")
