"""web push: subscriptions (one per device and sign-in), push deliveries, the prompt channel

Revision ID: b7e4c2d91f05
Revises: b7e2c4a91f05
Create Date: 2026-12-02 14:20:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'b7e4c2d91f05'
down_revision = 'b7e2c4a91f05'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prompt_channel', sa.String(length=8), server_default='both', nullable=False))

    op.create_table(
        'push_subscriptions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.String(length=64), nullable=False),
        sa.Column('endpoint', sa.String(length=1000), nullable=False),
        sa.Column('p256dh', sa.String(length=128), nullable=False),
        sa.Column('auth', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['session_id'], ['login_sessions.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('endpoint'),
    )
    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_push_subscriptions_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_push_subscriptions_user_id'), ['user_id'], unique=False)

    op.create_table(
        'push_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('prompt_id', sa.Integer(), nullable=False),
        sa.Column('subscription_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('claimed_at', sa.DateTime(), nullable=True),
        sa.Column('claim_token', sa.String(length=32), nullable=True),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(['prompt_id'], ['prompts.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['subscription_id'], ['push_subscriptions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('prompt_id', 'subscription_id', name='uq_push_delivery_prompt_subscription'),
    )
    with op.batch_alter_table('push_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_push_deliveries_claim', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_push_deliveries_prompt_id'), ['prompt_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_push_deliveries_subscription_id'), ['subscription_id'], unique=False)


def downgrade():
    op.drop_table('push_deliveries')
    op.drop_table('push_subscriptions')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('prompt_channel')
