"""Users, API tokens and per-job grants; who made a registry revision; upload sizes; event kinds.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 10:30:00.000000

Jobs made before this migration keep ``owner_id`` NULL: they belong to
anonymous mode and stay visible to admins (and to anonymous callers where
``UWS_ANONYMOUS`` allows it).
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('groups', sa.JSON(), nullable=False),
    sa.Column('quotas', sa.JSON(), nullable=False),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('last_used', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)
    op.create_table('job_grants',
    sa.Column('job_id', sa.String(length=32), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('permission', sa.Integer(), nullable=False),
    sa.Column('granted_by', sa.String(length=255), nullable=False),
    sa.Column('granted_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', 'username')
    )
    with op.batch_alter_table('job_grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_grants_username'), ['username'], unique=False)
    with op.batch_alter_table('job_type_revisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by', sa.String(length=255), nullable=True))
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('upload_bytes', sa.BigInteger(), nullable=False,
                                      server_default='0'))
    with op.batch_alter_table('job_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=32), nullable=False,
                                      server_default='phase'))


def downgrade() -> None:
    with op.batch_alter_table('job_events', schema=None) as batch_op:
        batch_op.drop_column('kind')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('upload_bytes')
    with op.batch_alter_table('job_type_revisions', schema=None) as batch_op:
        batch_op.drop_column('created_by')
    with op.batch_alter_table('job_grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_grants_username'))
    op.drop_table('job_grants')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))
    op.drop_table('api_tokens')
    op.drop_table('users')
