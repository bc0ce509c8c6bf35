"""account: calendar feed token and deleted accounts

Revision ID: c3a9d1e0acc1
Revises: 36f7c54e1f99
Create Date: 2026-11-29 13:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'c3a9d1e0acc1'
down_revision = '36f7c54e1f99'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calendar_token', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(), nullable=True))
        batch_op.create_unique_constraint('uq_users_calendar_token', ['calendar_token'])


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('uq_users_calendar_token', type_='unique')
        batch_op.drop_column('deleted_at')
        batch_op.drop_column('calendar_token')
