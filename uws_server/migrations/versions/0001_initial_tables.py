"""Initial tables: job types and revisions, jobs, parameters, results, history, lease.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-24 15:28:23.478622
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dispatcher_lease',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('holder', sa.String(length=255), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('job_types',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('version', sa.String(length=255), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('icon_code', sa.String(length=20), nullable=True),
    sa.Column('is_published', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('is_paused', sa.Boolean(), nullable=False),
    sa.Column('is_system', sa.Boolean(), nullable=False),
    sa.Column('max_scheduled', sa.Integer(), nullable=True),
    sa.Column('max_tries', sa.Integer(), nullable=False),
    sa.Column('docker_image', sa.String(length=255), nullable=False),
    sa.Column('configuration', sa.JSON(), nullable=False),
    sa.Column('unmet_resources', sa.String(length=255), nullable=True),
    sa.Column('revision_num', sa.Integer(), nullable=False),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.Column('deprecated', sa.DateTime(), nullable=True),
    sa.Column('paused', sa.DateTime(), nullable=True),
    sa.Column('last_modified', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', 'version', name='uq_job_types_name_version')
    )
    with op.batch_alter_table('job_types', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_types_name'), ['name'], unique=False)

    op.create_table('job_type_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_type_id', sa.Integer(), nullable=False),
    sa.Column('revision_num', sa.Integer(), nullable=False),
    sa.Column('manifest', sa.JSON(), nullable=False),
    sa.Column('docker_image', sa.String(length=255), nullable=False),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['job_type_id'], ['job_types.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_type_id', 'revision_num', name='uq_job_type_revisions_num')
    )
    op.create_table('jobs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('job_type_name', sa.String(length=255), nullable=False),
    sa.Column('revision_id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=True),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.Column('phase', sa.String(length=16), nullable=False),
    sa.Column('creation_time', sa.DateTime(), nullable=False),
    sa.Column('start_time', sa.DateTime(), nullable=True),
    sa.Column('end_time', sa.DateTime(), nullable=True),
    sa.Column('destruction_time', sa.DateTime(), nullable=True),
    sa.Column('quote', sa.DateTime(), nullable=True),
    sa.Column('execution_duration', sa.Integer(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('error_type', sa.String(length=16), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('error_detail', sa.Text(), nullable=True),
    sa.Column('job_info', sa.JSON(), nullable=False),
    sa.Column('executor', sa.String(length=32), nullable=True),
    sa.Column('submit_token', sa.String(length=64), nullable=True),
    sa.Column('backend_id', sa.String(length=128), nullable=True),
    sa.Column('backend_cursor', sa.Text(), nullable=True),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('duration_exceeded', sa.Boolean(), nullable=False),
    sa.Column('duration_dirty', sa.Boolean(), nullable=False),
    sa.Column('release_requested', sa.Boolean(), nullable=False),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('unknown_since', sa.DateTime(), nullable=True),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['revision_id'], ['job_type_revisions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_list', ['job_type_name', 'creation_time'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index('ix_jobs_phase', ['phase'], unique=False)

    op.create_table('job_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('from_phase', sa.String(length=16), nullable=True),
    sa.Column('to_phase', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=255), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('job_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_events_job_id'), ['job_id'], unique=False)

    op.create_table('job_parameters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('is_file', sa.Boolean(), nullable=False),
    sa.Column('source_url', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('job_parameters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_parameters_job_id'), ['job_id'], unique=False)

    op.create_table('job_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('result_id', sa.String(length=255), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('mime_type', sa.String(length=255), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_id', 'result_id', name='uq_job_results_id')
    )
    with op.batch_alter_table('job_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_results_job_id'), ['job_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('job_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_results_job_id'))

    op.drop_table('job_results')
    with op.batch_alter_table('job_parameters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_parameters_job_id'))

    op.drop_table('job_parameters')
    with op.batch_alter_table('job_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_events_job_id'))

    op.drop_table('job_events')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_phase')
        batch_op.drop_index(batch_op.f('ix_jobs_owner_id'))
        batch_op.drop_index('ix_jobs_list')

    op.drop_table('jobs')
    op.drop_table('job_type_revisions')
    with op.batch_alter_table('job_types', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_types_name'))

    op.drop_table('job_types')
    op.drop_table('dispatcher_lease')
