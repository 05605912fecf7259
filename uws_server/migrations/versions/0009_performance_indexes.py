"""Indexes for the hot paths: the dispatcher's flag scans and the job lists.

The job lists (``LAST``, ``AFTER``, ``PHASE``, and the chunks of a streamed
list) are read newest first by (creation time, id): their indexes now end in
``id`` as the ORDER BY does, and one leads with the phase for ``PHASE=``.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01 13:00:00.000000

The dispatcher looks, every tick, for the few jobs that need something done
(deleted, past their destruction time, an abort, a release or a new duration
to pass on). Partial indexes hold only those rows, so a tick costs the same
with ten finished jobs in the table as with a million. Each index's condition
is written exactly as the dispatcher's query writes it: SQLite matches partial
indexes by the form of the expression, PostgreSQL proves the implication.
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0007'
branch_labels = None
depends_on = None

#: name, indexed column, condition (the same SQL on both databases but for booleans)
_PARTIAL = (
    ('ix_jobs_deleted', 'creation_time', 'deleted IS {true}'),
    ('ix_jobs_destruction', 'destruction_time',
     "deleted IS {false} AND phase != 'ARCHIVED'"),
    ('ix_jobs_cancel_requested', 'creation_time', 'cancel_requested IS {true}'),
    ('ix_jobs_release_requested', 'creation_time', 'release_requested IS {true}'),
    ('ix_jobs_duration_dirty', 'creation_time', 'duration_dirty IS {true}'),
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    words = {'true': '1', 'false': '0'} if sqlite else {'true': 'true', 'false': 'false'}
    for name, column, condition in _PARTIAL:
        where = sa.text(condition.format(**words))
        op.create_index(name, 'jobs', [column], unique=False,
                        sqlite_where=where, postgresql_where=where)
    op.drop_index('ix_jobs_list', table_name='jobs')
    op.create_index('ix_jobs_list', 'jobs', ['job_type_name', 'creation_time', 'id'])
    op.create_index('ix_jobs_list_phase', 'jobs',
                    ['job_type_name', 'phase', 'creation_time', 'id'])


def downgrade() -> None:
    op.drop_index('ix_jobs_list_phase', table_name='jobs')
    op.drop_index('ix_jobs_list', table_name='jobs')
    op.create_index('ix_jobs_list', 'jobs', ['job_type_name', 'creation_time'])
    for name, _column, _condition in reversed(_PARTIAL):
        op.drop_index(name, table_name='jobs')
