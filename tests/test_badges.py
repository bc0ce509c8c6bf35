"""My badge, QR codes, badge links and short codes."""
import io
import re

import pytest
import sqlalchemy as sa
import zxingcpp
from PIL import Image

from relbuild.extensions import db
from relbuild.models import Badge
from relbuild.services import RelbuildError
from relbuild.services.badges import SHORT_CODE_ALPHABET, badge_by_short_code, normalize_short_code
from tests.conftest import PASSWORD


def test_badge_page_shows_link_code_and_qr(client, make_user, login):
    user = make_user()
    login(client, user)
    page = client.get("/badge").data.decode()
    link = f"http://relbuild.test/c/{user.token}"
    assert link in page
    assert f'data-short-code="{user.short_code}"' in page
    assert len(user.short_code) >= 8 and set(user.short_code) <= set(SHORT_CODE_ALPHABET)
    assert not set("01OIL") & set(SHORT_CODE_ALPHABET)


def test_token_is_unguessable(make_user):
    tokens = {make_user().token for _ in range(3)}
    assert len(tokens) == 3
    assert all(len(t) >= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", t) for t in tokens)  # 192 bits, url-safe


def test_qr_png_decodes_to_the_badge_link(client, make_user, login):
    user = make_user()
    login(client, user)
    response = client.get("/badge/qr.png?download=1")
    assert response.mimetype == "image/png"
    assert "attachment" in response.headers["Content-Disposition"]
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.data)))
    assert [r.text for r in results] == [f"http://relbuild.test/c/{user.token}"]


def test_qr_svg_is_black_on_white_with_quiet_zone(client, make_user, login):
    login(client, make_user())
    svg = client.get("/badge/qr.svg").data.decode()
    size = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    assert '<rect width="%d" height="%d" fill="#fff"/>' % (size, size) in svg
    starts = [(int(x), int(y)) for x, y in re.findall(r"M(\d+) (\d+)", svg)]
    assert min(x for x, _ in starts) == 4 and min(y for _, y in starts) == 4  # 4-module quiet zone


def test_replacing_the_badge_retires_the_old_link_and_code(client, make_user, login):
    owner, visitor = make_user(name="Owner"), make_user()
    login(client, owner)
    assert client.submit("/badge/replace", {"password": "wrong password!"}).status_code == 422
    assert client.get("/badge").data.decode().count(owner.token) >= 1  # a wrong password changes nothing
    assert client.submit("/badge/replace", {"password": PASSWORD}).status_code == 302
    page = client.get("/badge").data.decode()
    assert owner.token not in page and owner.short_code not in page

    other = client.application.test_client()
    login(other, visitor)
    old = other.get(f"/c/{owner.token}")
    assert old.status_code == 410 and b"This badge was replaced" in old.data and b"Owner" not in old.data
    by_code = other.submit("/connect", {"code": owner.short_code})
    assert by_code.status_code == 404 and b"No badge has this code" in by_code.data
    new_token = re.search(r"/c/([A-Za-z0-9_-]+)", page).group(1)
    assert b"Owner" in other.get(f"/c/{new_token}").data


def test_unknown_badge_link_is_a_friendly_404(client):
    for token in ("nope", "x" * 500):
        response = client.get(f"/c/{token}")
        assert response.status_code == 404 and b"There is no badge with this link" in response.data


@pytest.mark.parametrize("typed", ["{code}", "{lower}", "{dashed}", " {lower_dashed} "])
def test_connect_by_short_code_any_case(client, make_user, login, typed):
    person = make_user()
    login(client, make_user())
    code = person.short_code
    text = typed.format(code=code, lower=code.lower(), dashed=f"{code[:4]}-{code[4:]}",
                        lower_dashed=f"{code[:4]}-{code[4:]}".lower())
    response = client.submit("/connect", {"code": text})
    assert response.status_code == 302 and response.headers["Location"] == f"/c/{person.token}"


@pytest.mark.parametrize("typed, status, message", [
    ("", 422, b"Type the code printed under their QR"),
    ("ABC", 422, b"A badge code has 8 letters and digits"),
    ("OOOOIIII", 422, b"Codes never use 0, O, 1, I, L and U"),
    ("QQQQ-0000", 422, "Codes never use 0, O, 1, I, L and U (they look too alike), so “0” cannot".encode()),
    ("x" * 40, 422, b"A badge code has 8 letters and digits"),
])
def test_connect_bad_codes_are_explained(client, typed, status, message):
    response = client.submit("/connect", {"code": typed})
    assert response.status_code == status and message in response.data


def test_short_code_lookup_service(app, make_user):
    user = make_user()
    with app.app_context():
        assert badge_by_short_code(user.short_code.lower()).token == user.token
        assert normalize_short_code(" ab-cd efgh ") == "ABCDEFGH"
        with pytest.raises(RelbuildError) as error:
            badge_by_short_code("ZZZZZZZZ" if user.short_code != "ZZZZZZZZ" else "YYYYYYYY")
        assert error.value.status == 404


def test_database_keeps_tokens_and_codes_unique(app, make_user):
    user = make_user()
    with app.app_context():
        db.session.add(Badge(user_id=user.id, token=user.token, short_code="ABCDEFGH"))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_own_badge_shows_a_friendly_message(client, make_user, login):
    user = make_user()
    login(client, user)
    page = client.get(f"/c/{user.token}")
    assert page.status_code == 200 and b"This is your own badge" in page.data
    assert b'name="body"' not in page.data
