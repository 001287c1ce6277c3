"""indexes for searching and sorting people

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 00:30:00

- user (lower(name), id): attendee lists sorted by name (their default) read
  the event's first page in order instead of sorting everyone registered.
- contact_tag (tag_id, contact_id): the address book filtered by one tag
  (the primary key leads with the contact).
- attendance (event_id, checked_in_at): how many registered and checked in,
  counted from the index (SQLite read every registration's row for it).
- contact (owner_id, event_id) for live contacts met at an event: the
  address book's "met at" choices, one probe per event rather than a read of
  all of someone's contacts.
- PostgreSQL only: trigram (pg_trgm) GIN indexes on the lower-cased,
  line-break-joined text a search looks in: a person's name, headline,
  company and email (ix_user_search), a contact's own name, headline,
  company, email and note (ix_contact_search). ``LIKE '%term%'`` on that
  very expression reads candidates from the index; the search then checks
  each field exactly as before, so results are the same, short terms and
  any alphabet included (terms under three letters read the whole index).
  SQLite has no such index: it keeps reading the rows. Without fastupdate:
  new entries go straight into the index rather than a pending list that
  every search reads through until the next (auto)vacuum, which after a bulk
  load made the planner give up the index (a scan's own contact entries add
  almost nothing to it: their own text is empty or a short note).

pg_trgm is a trusted extension in PostgreSQL 13 and later: the database's
owner may create it. Downgrading leaves it installed (other schemas on the
server may use it); it costs nothing unused.

Written after 0012 (recap lease) and applied after it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

LINE_BREAK = "E'\\n'"


def _search_text(*columns):
    return "lower(" + f" || {LINE_BREAK} || ".join(columns) + ")"


def upgrade():
    op.create_index('ix_user_lower_name', 'user', [sa.text('lower(name)'), 'id'], unique=False)
    op.create_index('ix_contact_tag_tag_id', 'contact_tag', ['tag_id', 'contact_id'], unique=False)
    op.create_index('ix_attendance_event_checked_in', 'attendance', ['event_id', 'checked_in_at'], unique=False)
    live_met = sa.text('deleted_at IS NULL AND event_id IS NOT NULL')
    op.create_index('ix_contact_owner_event', 'contact', ['owner_id', 'event_id'], unique=False,
                    postgresql_where=live_met, sqlite_where=live_met)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.create_index('ix_user_search', 'user',
                        [sa.text(_search_text('name', 'headline', 'company', 'email') + ' gin_trgm_ops')],
                        unique=False, postgresql_using='gin', postgresql_with={'fastupdate': 'off'})
        op.create_index('ix_contact_search', 'contact',
                        [sa.text(_search_text('name', 'headline', 'company', 'email', 'note') + ' gin_trgm_ops')],
                        unique=False, postgresql_using='gin', postgresql_with={'fastupdate': 'off'})


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_contact_search', table_name='contact')
        op.drop_index('ix_user_search', table_name='user')
    op.drop_index('ix_contact_owner_event', table_name='contact')
    op.drop_index('ix_attendance_event_checked_in', table_name='attendance')
    op.drop_index('ix_contact_tag_tag_id', table_name='contact_tag')
    op.drop_index('ix_user_lower_name', table_name='user')
