"""Webhook notifications: job subscriptions, the delivery outbox and the jobs' ``notify`` flag.

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-01 13:00:00.000000

Deliveries are written in the transaction of the phase change that causes
them (an outbox), so a crash between the change and the call loses none.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify', sa.Boolean(), nullable=False,
                                      server_default='0'))
    op.create_table('job_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('persistent', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False, server_default='default'),
    sa.Column('job_url', sa.Text(), nullable=True),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('job_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_subscriptions_job_id'), ['job_id'],
                              unique=False)
    op.create_table('notification_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False, server_default='default'),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_id'], ['job_subscriptions.id'],
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notification_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_deliveries_job_id'), ['job_id'],
                              unique=False)
        batch_op.create_index('ix_notification_deliveries_due', ['state', 'next_attempt_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notification_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_deliveries_due')
        batch_op.drop_index(batch_op.f('ix_notification_deliveries_job_id'))
    op.drop_table('notification_deliveries')
    with op.batch_alter_table('job_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_subscriptions_job_id'))
    op.drop_table('job_subscriptions')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('notify')
