"""recaps composed in committed batches: a lease on the event, and an index for a batch's contacts

The contacts of some owners at one event (a batch of recaps) were found by
reading every contact of the event: (event_id, owner_id) replaces the index
on event_id alone, which it also serves.

Revision ID: 0012
Revises: 0010
Create Date: 2026-11-25 23:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE on both databases (no batch copy: SQLite's table keeps AUTOINCREMENT).
    op.add_column('event', sa.Column('recaps_claimed_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_contact_event_owner', 'contact', ['event_id', 'owner_id'], unique=False)
    op.drop_index('ix_contact_event_id', table_name='contact')


def downgrade():
    op.create_index('ix_contact_event_id', 'contact', ['event_id'], unique=False)
    op.drop_index('ix_contact_event_owner', table_name='contact')
    if op.get_bind().dialect.name == 'sqlite':  # SQLite 3.35+ drops a column in place
        op.execute('ALTER TABLE event DROP COLUMN recaps_claimed_at')
    else:
        op.drop_column('event', 'recaps_claimed_at')
