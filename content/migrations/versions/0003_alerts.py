"""Emergency alerts: the alert, its framed audio per language, its deliveries per commune.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

Written out in full, not imported from the models (see 0001). New tables only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HAZARDS = (
    "storm",
    "tropical-depression",
    "tornado",
    "lightning",
    "hail",
    "heavy-rain",
    "flood",
    "flash-flood",
    "inundation",
    "landslide",
    "land-subsidence",
    "drought",
    "salinity-intrusion",
    "extreme-heat",
    "cold",
    "frost",
    "forest-fire",
    "earthquake",
    "tsunami",
    "other",
)


def _choice(table: str, column: str, *values: str, length: int = 16) -> sa.Enum:
    return sa.Enum(
        *values,
        name=op.f(f"ck_{table}_{column}"),
        native_enum=False,
        create_constraint=True,
        length=length,
    )


def _instant() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    _create_alerts()
    _create_alert_clips()
    _create_alert_deliveries()


def _create_alerts() -> None:
    statuses = ("actual", "exercise", "test", "draft")
    states = ("issued", "held", "superseded", "cancelled")
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=200), nullable=False),
        sa.Column("sender", sa.String(length=200), nullable=False),
        sa.Column("hazard", _choice("alerts", "hazard", *HAZARDS, length=32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("status", _choice("alerts", "status", *statuses), nullable=False),
        sa.Column("state", _choice("alerts", "state", *states), nullable=False),
        sa.Column("communes", sa.Text(), nullable=True),
        sa.Column("phrasebank_languages", sa.Text(), nullable=True),
        sa.Column("issued_at", _instant(), nullable=False),
        sa.Column("expires_at", _instant(), nullable=False),
        sa.Column("repeat_every_s", sa.Integer(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("urgency", sa.String(length=16), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=True),
        sa.Column("certainty", sa.String(length=16), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("ended_at", _instant(), nullable=True),
        sa.Column("ended_by", sa.String(length=100), nullable=True),
        sa.Column("end_reason", sa.String(length=300), nullable=True),
        sa.CheckConstraint("level BETWEEN 1 AND 5", name=op.f("ck_alerts_level_range")),
        sa.CheckConstraint("expires_at > issued_at", name=op.f("ck_alerts_expires_after_issue")),
        sa.CheckConstraint(
            "repeat_every_s IS NULL OR repeat_every_s > 0", name=op.f("ck_alerts_repeat_positive")
        ),
        sa.CheckConstraint(
            "(ended_at IS NULL AND ended_by IS NULL)"
            " OR (ended_at IS NOT NULL AND ended_by IS NOT NULL)",
            name=op.f("ck_alerts_ended_with_actor"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["content_items.id"], name=op.f("fk_alerts_item_id_content_items")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["alerts.id"], name=op.f("fk_alerts_supersedes_id_alerts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("identifier", name=op.f("uq_alerts_identifier")),
        sa.UniqueConstraint("item_id", name=op.f("uq_alerts_item_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_alerts_state"), "alerts", ["state"])


def _create_alert_clips() -> None:
    op.create_table(
        "alert_clips",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=3), nullable=False),
        sa.Column("commune", sa.String(length=63), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("lufs", sa.Float(), nullable=False),
        sa.Column("true_peak_dbtp", sa.Float(), nullable=False),
        sa.Column("engine", sa.String(length=40), nullable=False),
        sa.Column("created_at", _instant(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_clips_alert_id_alerts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_clips")),
    )
    op.create_index(op.f("ix_alert_clips_alert_id"), "alert_clips", ["alert_id"])


def _create_alert_deliveries() -> None:
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("commune", sa.String(length=63), nullable=False),
        sa.Column("item_ids", sa.Text(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("published_at", _instant(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_deliveries_alert_id_alerts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
        sa.UniqueConstraint(
            "alert_id", "commune", name=op.f("uq_alert_deliveries_alert_id_commune")
        ),
    )


def downgrade() -> None:
    op.drop_table("alert_deliveries")
    op.drop_index(op.f("ix_alert_clips_alert_id"), table_name="alert_clips")
    op.drop_table("alert_clips")
    op.drop_index(op.f("ix_alerts_state"), table_name="alerts")
    op.drop_table("alerts")
