"""The short, genuine profile."""
import pytest

from relbuild.services import RelbuildError
from relbuild.services.profiles import parse_values

PROFILE = {"name": "Ada Lovelace", "headline": "Maths and machines", "values": "Curiosity, craft ,  kindness",
           "can_help_with": "Intros to analysts", "looking_for": "A first engineering job",
           "timezone": "Europe/Berlin", "share_email": "y"}


def test_profile_saves_and_shows(client, make_user, login):
    login(client, make_user())
    response = client.submit("/profile", PROFILE)
    assert response.status_code == 302 and response.headers["Location"] == "/badge"
    page = client.get("/profile").data
    assert b'value="Curiosity, craft, kindness"' in page
    assert b'<option selected value="Europe/Berlin">' in page
    assert b'name="share_email" type="checkbox" value="y" checked' in page or b"checked" in page


@pytest.mark.parametrize("change, field, message", [
    ({"values": "a, b, c, d"}, "values", b"Pick the 3 values"),
    ({"timezone": "Moon/Base"}, "timezone", b"Pick your time zone"),
    ({"name": "   "}, "name", b"Tell people your name"),
    ({"headline": "x" * 121}, "headline", b"120"),
])
def test_profile_bad_input_is_explained(client, make_user, login, change, field, message):
    login(client, make_user(name="Kept Name"))
    response = client.submit("/profile", {**PROFILE, **change})
    assert response.status_code == 422
    assert message in response.data and f'id="{field}-error"'.encode() in response.data
    # nothing was saved
    assert b"Kept Name" in client.get("/profile").data


def test_parse_values_dedupes_and_keeps_spelling():
    assert parse_values(" Open source,open SOURCE, Care ") == ["Open source", "Care"]
    assert parse_values("") == []
    with pytest.raises(RelbuildError):
        parse_values("x" * 41)


def test_profile_offers_value_suggestions(client, make_user, login):
    login(client, make_user())
    page = client.get("/profile").data
    assert b'class="chip" data-value="Curiosity"' in page
