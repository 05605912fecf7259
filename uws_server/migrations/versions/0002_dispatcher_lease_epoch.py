"""Dispatcher lease epoch: a fencing token that grows each time the lease changes hands.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:00:00.000000

A dispatcher paused past its lease (SIGSTOP, a long GC, a frozen VM) must not
submit a job its successor already took over; it checks the epoch it took
against this column in the transaction that claims each job and again right
before it calls the backend.
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dispatcher_lease') as batch_op:
        batch_op.add_column(sa.Column('epoch', sa.BigInteger(), nullable=False,
                                      server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('dispatcher_lease') as batch_op:
        batch_op.drop_column('epoch')
