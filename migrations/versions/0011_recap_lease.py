"""recaps composed in committed batches: a lease on the event while they are

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 23:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE on both databases (no batch copy: SQLite's table keeps AUTOINCREMENT).
    op.add_column('event', sa.Column('recaps_claimed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':  # SQLite 3.35+ drops a column in place
        op.execute('ALTER TABLE event DROP COLUMN recaps_claimed_at')
    else:
        op.drop_column('event', 'recaps_claimed_at')
