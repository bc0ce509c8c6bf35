"""passkeys: WebAuthn credentials, single-use challenges, passkey re-authentication

Revision ID: b7e2c4a91f05
Revises: a705466e32f3
Create Date: 2026-12-02 14:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'b7e2c4a91f05'
down_revision = 'a705466e32f3'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN and a unique index, no batch mode: on SQLite a batch rebuild drops and recreates
    # `users`, and with foreign keys on that would cascade-delete every row that points at a user.
    op.add_column('users', sa.Column('passkey_handle', sa.String(length=88), nullable=True))
    op.create_index('ix_users_passkey_handle', 'users', ['passkey_handle'], unique=True)
    op.add_column('login_sessions', sa.Column('reauth_at', sa.DateTime(), nullable=True))
    op.create_table(
        'passkeys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=32), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('credential_id', sa.String(length=1400), nullable=False),
        sa.Column('public_key', sa.LargeBinary(), nullable=False),
        sa.Column('sign_count', sa.BigInteger(), nullable=False),
        sa.Column('transports', sa.JSON(), nullable=False),
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('backed_up', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_used_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('public_id'),
        sa.UniqueConstraint('credential_id'),
    )
    op.create_index('ix_passkeys_user_id', 'passkeys', ['user_id'])
    op.create_table(
        'passkey_challenges',
        sa.Column('challenge', sa.String(length=128), nullable=False),
        sa.Column('purpose', sa.String(length=16), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('session_id', sa.String(length=64), nullable=True),
        sa.Column('data', sa.JSON(), nullable=True),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('challenge'),
    )
    op.create_index('ix_passkey_challenges_expires_at', 'passkey_challenges', ['expires_at'])


def downgrade():
    op.drop_index('ix_passkey_challenges_expires_at', table_name='passkey_challenges')
    op.drop_table('passkey_challenges')
    op.drop_index('ix_passkeys_user_id', table_name='passkeys')
    op.drop_table('passkeys')
    op.drop_column('login_sessions', 'reauth_at')  # SQLite 3.35+ drops a column in place
    op.drop_index('ix_users_passkey_handle', table_name='users')
    op.drop_column('users', 'passkey_handle')
