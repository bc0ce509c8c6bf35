"""Accounts service: sign-up rules, password policy, sessions."""
import pytest
import sqlalchemy as sa

from relbuild.extensions import db
from relbuild.models import LoginSession, User
from relbuild.services import RelbuildError
from relbuild.services.accounts import (
    authenticate, check_password_policy, end_session, load_session_user, register_user, start_session,
)
from tests.conftest import PASSWORD


def test_register_hashes_password_and_issues_badge(app):
    with app.app_context():
        user = register_user("Ada Lovelace", "  Ada@Example.COM ", PASSWORD, "Europe/London")
        assert user.email == "ada@example.com"
        assert user.password_hash.startswith("scrypt:") and PASSWORD not in user.password_hash
        assert user.timezone == "Europe/London"
        assert user.current_badge is not None


def test_register_refuses_second_account_for_same_email(app):
    with app.app_context():
        register_user("Ada", "ada@example.com", PASSWORD)
        with pytest.raises(RelbuildError) as error:
            register_user("Other Ada", "ADA@example.com", "another good phrase")
        assert error.value.code == "email_taken"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


@pytest.mark.parametrize("password, code", [
    ("short", "weak_password"),
    ("password1", "common_password"),
    ("iloveyou", "common_password"),
    ("aaaaaaaaaa", "common_password"),
    ("x" * 257, "long_password"),
])
def test_password_policy_refuses_weak_passwords_with_a_reason(password, code):
    with pytest.raises(RelbuildError) as error:
        check_password_policy(password)
    assert error.value.code == code and error.value.field == "password" and error.value.message


def test_password_same_as_email_is_refused():
    with pytest.raises(RelbuildError):
        check_password_policy("grace.hopper@example.com", email="grace.hopper@example.com")


def test_unknown_timezone_falls_back_to_utc(app):
    with app.app_context():
        assert register_user("Ada", "ada@example.com", PASSWORD, "Mars/Olympus").timezone == "UTC"


def test_authenticate(app):
    with app.app_context():
        register_user("Ada", "ada@example.com", PASSWORD)
        assert authenticate("ADA@example.com", PASSWORD).name == "Ada"
        assert authenticate("ada@example.com", "wrong password here") is None
        assert authenticate("nobody@example.com", PASSWORD) is None
        assert authenticate("not an email", PASSWORD) is None


def test_ended_session_no_longer_loads(app):
    with app.app_context():
        user = start_session(register_user("Ada", "ada@example.com", PASSWORD))
        session_id = user.get_id()
        assert load_session_user(session_id).id == user.id
        end_session(session_id)
        assert load_session_user(session_id) is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginSession)) == 0
