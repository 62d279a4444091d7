"""Slot bookings: approved items placed in the communes' recurring programme slots.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Written out in full, not imported from the models (see 0001). A new table only: nothing
of 0001's tables changes, so neither SQLite's batch mode nor a table copy is needed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _instant() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "slot_bookings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.String(length=63), nullable=False),
        sa.Column("communes", sa.Text(), nullable=True),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", _instant(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("cancelled_at", _instant(), nullable=True),
        sa.Column("cancelled_by", sa.String(length=100), nullable=True),
        sa.CheckConstraint("last_day >= first_day", name=op.f("ck_slot_bookings_day_order")),
        sa.CheckConstraint("position >= 0", name=op.f("ck_slot_bookings_position_not_negative")),
        sa.CheckConstraint(
            "(cancelled_at IS NULL AND cancelled_by IS NULL)"
            " OR (cancelled_at IS NOT NULL AND cancelled_by IS NOT NULL)",
            name=op.f("ck_slot_bookings_cancelled_with_actor"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["content_items.id"],
            name=op.f("fk_slot_bookings_item_id_content_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slot_bookings")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_slot_bookings_item_id"), "slot_bookings", ["item_id"])
    op.create_index(op.f("ix_slot_bookings_slot"), "slot_bookings", ["slot"])


def downgrade() -> None:
    op.drop_index(op.f("ix_slot_bookings_slot"), table_name="slot_bookings")
    op.drop_index(op.f("ix_slot_bookings_item_id"), table_name="slot_bookings")
    op.drop_table("slot_bookings")
