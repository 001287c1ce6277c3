"""sqlite: never reuse user, event and contact ids

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 20:40:00

SQLite gives a new row the id of a deleted one when it was the highest.
Sessions, sign-in, invitation, unsubscribe and one-click links name users,
events and contacts by id, so after an account (or event) is deleted, a link
or cookie it left behind must never point at someone new. AUTOINCREMENT makes
SQLite keep counting instead. PostgreSQL sequences never go back: nothing to do.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

TABLES = ("user", "event", "contact")


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    # env.py turns foreign keys off around migrations, so rebuilding a parent
    # table does not cascade into its children.
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": False}):
            pass
