"""Entry point: `flask --app app …` and `gunicorn app:app`."""
from relbuild import create_app

app = create_app()
