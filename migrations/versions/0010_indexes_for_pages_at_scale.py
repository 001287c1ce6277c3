"""indexes for pages at scale

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 20:52:41

- scan (event_id, scanner_id, scanned_id) and (event_id, scanned_id,
  scanner_id): who met whom at an event, both ways, from the indexes alone.
  The dashboard's connection figures and the attendee list's per-person
  counts read them instead of every scan row of the event.
- contact (owner_id, coalesce(last_touched_at, met_at) DESC, id DESC): the
  address book's default order ("last in touch"), read in order rather than
  sorting all of someone's contacts for each page. PostgreSQL's DESC puts
  NULLs first, so it says NULLS LAST there (the query does); SQLite already
  puts them last and does not accept the words in an index.
- contact (owner_id, deleted_at, state, event_id): someone's live contacts by
  follow-up state and event. The follow-up count in the navigation of every
  page, the address book's total and its list of events read the index, not
  each contact row.

SQLite can't reflect an index on an expression: a later migration that
rebuilds the contact table in batch mode on SQLite must create
ix_contact_owner_recent again (and ``flask db check`` can't tell there).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_scan_event_pair', 'scan', ['event_id', 'scanner_id', 'scanned_id'], unique=False)
    op.create_index('ix_scan_event_pair_scanned', 'scan', ['event_id', 'scanned_id', 'scanner_id'], unique=False)
    nulls = " NULLS LAST" if op.get_bind().dialect.name == "postgresql" else ""
    op.create_index('ix_contact_owner_recent', 'contact',
                    ['owner_id', sa.text(f"coalesce(last_touched_at, met_at) DESC{nulls}"), sa.text("id DESC")],
                    unique=False)
    op.create_index('ix_contact_owner_live', 'contact', ['owner_id', 'deleted_at', 'state', 'event_id'],
                    unique=False)


def downgrade():
    op.drop_index('ix_contact_owner_live', table_name='contact')
    op.drop_index('ix_contact_owner_recent', table_name='contact')
    op.drop_index('ix_scan_event_pair_scanned', table_name='scan')
    op.drop_index('ix_scan_event_pair', table_name='scan')
