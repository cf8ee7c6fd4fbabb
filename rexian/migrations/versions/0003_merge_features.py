"""merge the feature branches of issues #3, #4 and #5 and Open311 into one line

Revision ID: 0003_merge_features
Revises: 0002_work_orders, 0002_knowledge_base, 0002_open311, 0002_nlu_feedback
Create Date: 2026-11-25
"""

from collections.abc import Sequence

revision: str = "0003_merge_features"
down_revision: str | Sequence[str] | None = (
    "0002_work_orders",
    "0002_knowledge_base",
    "0002_open311",
    "0002_nlu_feedback",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
