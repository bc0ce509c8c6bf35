"""Flask extensions, created here and bound to the app in create_app."""
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


# Objects stay readable after a commit: a request or a worker pass commits often and then reads what
# it just wrote; expiring everything on each commit made every later attribute a new query.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()


def user_or_address() -> str:
    """Who a rate limit counts: each signed-in person on their own, everyone else by client address.

    A whole venue often shares one public address (the venue's NAT), so per-address limits alone
    would refuse a busy fair; signed-in people are told apart by their account instead.
    """
    from .identity import identity  # (imports the services, which import this module)

    who = identity()
    return f"user:{who.id}" if who is not None else get_remote_address()


# Wrong passwords are limited per account address in the database (services.throttle), not here.
limiter = Limiter(key_func=user_or_address, default_limits=[])
compress = Compress()
