"""Batches: the ``batches`` table, and each job's batch, set index and hardware request.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 13:00:00.000000

Jobs made before this migration belong to no batch (``batch_id`` NULL) and keep
their manifest's resources (the hardware columns NULL).
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('batches',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=True),
    sa.Column('job_type_name', sa.String(length=255), nullable=False),
    sa.Column('job_type_version', sa.String(length=255), nullable=False),
    sa.Column('revision_id', sa.Integer(), nullable=False),
    sa.Column('cpu', sa.Float(), nullable=True),
    sa.Column('memory_mib', sa.Float(), nullable=True),
    sa.Column('filesystems', sa.JSON(), nullable=False),
    sa.Column('n_jobs', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['revision_id'], ['job_type_revisions.id']),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_batches_owner_id'), ['owner_id'], unique=False)
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('batch_index', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('req_cpu', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('req_memory_mib', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('filesystems', sa.JSON(), nullable=True))
        batch_op.create_foreign_key('fk_jobs_batch_id', 'batches', ['batch_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_index('ix_jobs_batch_order', ['batch_id', 'batch_index'], unique=False)
        batch_op.create_index('ix_jobs_batch_status',
                              ['batch_id', 'deleted', 'phase', 'submit_token', 'backend_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_batch_status')
        batch_op.drop_index('ix_jobs_batch_order')
        batch_op.drop_constraint('fk_jobs_batch_id', type_='foreignkey')
        batch_op.drop_column('filesystems')
        batch_op.drop_column('req_memory_mib')
        batch_op.drop_column('req_cpu')
        batch_op.drop_column('batch_index')
        batch_op.drop_column('batch_id')
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_batches_owner_id'))
    op.drop_table('batches')
