"""webhook signing secrets encrypted at rest

``webhook_endpoints.secret`` (clear) becomes ``secret_ciphertext`` (Fernet, see
``fundguard_notify.secretbox``). Existing secrets are encrypted in place with the configured key
(FUNDGUARD_NOTIFY_SECRET_KEY, else FUNDGUARD_PII_KEY, else the dev key file); with endpoints
present and no key the upgrade stops rather than lose or keep them in clear. The downgrade
decrypts them back (same key needed).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 17:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from fundguard_notify import secretbox

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _rewrite(source: str, target: str, transform) -> None:
    conn = op.get_bind()
    table = sa.table("webhook_endpoints", sa.column("id", sa.String),
                     sa.column(source, sa.String), sa.column(target, sa.String))
    rows = conn.execute(sa.select(table.c.id, table.c[source])).all()
    for row_id, value in rows:
        conn.execute(sa.update(table).where(table.c.id == row_id)
                     .values({target: transform(value)}))


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret_ciphertext", sa.String(length=500), nullable=True))
    _rewrite("secret", "secret_ciphertext", secretbox.encrypt)
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.alter_column("secret_ciphertext", existing_type=sa.String(length=500),
                              nullable=False)
        batch_op.drop_column("secret")


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret", sa.String(length=200), nullable=True))
    _rewrite("secret_ciphertext", "secret", secretbox.decrypt)
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.alter_column("secret", existing_type=sa.String(length=200), nullable=False)
        batch_op.drop_column("secret_ciphertext")
