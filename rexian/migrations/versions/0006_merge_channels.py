"""merge the channel branches of issues #6 and #7 (voice, SIP accounts, SMS, email, contact preferences)

Revision ID: 0006_merge_channels
Revises: 0005_voice, 0005_sip_accounts, 0005_sms, 0005_email, 0005_contact_prefs
Create Date: 2026-11-26
"""

from collections.abc import Sequence

revision: str = "0006_merge_channels"
down_revision: str | Sequence[str] | None = (
    "0005_voice",
    "0005_sip_accounts",
    "0005_sms",
    "0005_email",
    "0005_contact_prefs",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
