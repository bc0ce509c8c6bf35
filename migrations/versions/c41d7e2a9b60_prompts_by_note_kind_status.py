"""prompts by note, kind and status: a note's waiting offer check found in the index, not among all pending prompts

Without statistics SQLite answered "has this note a pending offer check?" (every note write asks) through
ix_prompts_claim (status), reading every pending prompt: a write cost more the more prompts were waiting.
One index on (note_id, kind, status) answers it directly and still serves every lookup by note.

Revision ID: c41d7e2a9b60
Revises: b7e2f4c81d15
Create Date: 2026-12-02 19:00:00

"""
from alembic import op

revision = 'c41d7e2a9b60'
down_revision = 'b7e2f4c81d15'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('prompts', schema=None) as batch_op:
        batch_op.drop_index('ix_prompts_note_id')
        batch_op.create_index('ix_prompts_note_kind_status', ['note_id', 'kind', 'status'], unique=False)


def downgrade():
    with op.batch_alter_table('prompts', schema=None) as batch_op:
        batch_op.drop_index('ix_prompts_note_kind_status')
        batch_op.create_index('ix_prompts_note_id', ['note_id'], unique=False)
