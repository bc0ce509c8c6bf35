"""consent: invitations, confirmed emails, session activity, password failures, outcome snapshots

Revision ID: a705466e32f3
Revises: c3a9d1e0acc1
Create Date: 2026-12-02 02:53:23.815946

People an organizer imported before this revision were made attendees without saying yes:
their attendances become pending invitations (no email is sent again), which they can accept
in the app once their address is confirmed.
"""
import uuid

import sqlalchemy as sa
from alembic import op

revision = 'a705466e32f3'
down_revision = 'c3a9d1e0acc1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('password_failures',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('window_start', sa.DateTime(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('event_outcomes',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=12), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id', 'stage')
    )
    op.create_table('invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('headline', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=12), nullable=False),
    sa.Column('invited_by', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invited_by'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'email', 'role', name='uq_invitation_event_email_role')
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitations_email'), ['email'], unique=False)
        batch_op.create_index('ix_invitations_inviter_created', ['invited_by', 'created_at'], unique=False)

    # Imported attendances (never accepted) become pending invitations.
    op.execute("""
        INSERT INTO invitations (event_id, email, name, headline, role, status, created_at)
        SELECT a.event_id, u.email, u.name, u.headline, 'attendee', 'pending', a.joined_at
        FROM event_attendees a JOIN users u ON u.id = a.user_id
        WHERE a.imported AND u.deleted_at IS NULL
    """)
    op.execute("DELETE FROM event_attendees WHERE imported")
    with op.batch_alter_table('event_attendees', schema=None) as batch_op:
        batch_op.drop_column('imported')

    # New columns on existing sessions: filled in, then made required.
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('last_seen_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('device', sa.String(length=120), nullable=False, server_default=''))
    sessions = sa.table('login_sessions', sa.column('id', sa.String), sa.column('public_id', sa.String),
                        sa.column('created_at', sa.DateTime), sa.column('last_seen_at', sa.DateTime))
    connection = op.get_bind()
    for (session_id,) in connection.execute(sa.select(sessions.c.id)).all():
        connection.execute(sa.update(sessions).where(sessions.c.id == session_id)
                           .values(public_id=uuid.uuid4().hex, last_seen_at=sessions.c.created_at))
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.alter_column('public_id', existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column('last_seen_at', existing_type=sa.DateTime(), nullable=False)
        batch_op.alter_column('device', existing_type=sa.String(length=120), server_default=None)
        batch_op.create_unique_constraint('uq_login_sessions_public_id', ['public_id'])

    with op.batch_alter_table('prompts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('invitation_id', sa.Integer(), nullable=True))
        batch_op.alter_column('user_id', existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(batch_op.f('ix_prompts_invitation_id'), ['invitation_id'], unique=False)
        batch_op.create_foreign_key('fk_prompts_invitation_id', 'invitations', ['invitation_id'], ['id'],
                                    ondelete='CASCADE')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_confirmed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('pending_email', sa.String(length=254), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('pending_email')
        batch_op.drop_column('email_confirmed_at')

    op.execute("DELETE FROM prompts WHERE user_id IS NULL")
    with op.batch_alter_table('prompts', schema=None) as batch_op:
        batch_op.drop_constraint('fk_prompts_invitation_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_prompts_invitation_id'))
        batch_op.alter_column('user_id', existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column('invitation_id')
        batch_op.drop_column('address')

    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_constraint('uq_login_sessions_public_id', type_='unique')
        batch_op.drop_column('device')
        batch_op.drop_column('last_seen_at')
        batch_op.drop_column('public_id')

    with op.batch_alter_table('event_attendees', schema=None) as batch_op:
        batch_op.add_column(sa.Column('imported', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index('ix_invitations_inviter_created')
        batch_op.drop_index(batch_op.f('ix_invitations_email'))

    op.drop_table('invitations')
    op.drop_table('event_outcomes')
    op.drop_table('password_failures')
