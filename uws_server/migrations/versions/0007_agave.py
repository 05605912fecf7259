"""The resubmission link of a job (the Agave jobs API, /jobs/v2).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 13:00:00.000000

``jobs.resubmitted_from`` names the job a job was resubmitted from
(``POST /jobs/v2/{id}`` with ``{"action": "resubmit"}``); the other direction
is the same column read backwards. No foreign key: the original may be
destroyed first, and the link then simply names a job that is gone.
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs') as batch:
        batch.add_column(sa.Column('resubmitted_from', sa.String(length=32), nullable=True))
        batch.create_index('ix_jobs_resubmitted_from', ['resubmitted_from'])


def downgrade() -> None:
    with op.batch_alter_table('jobs') as batch:
        batch.drop_index('ix_jobs_resubmitted_from')
        batch.drop_column('resubmitted_from')
