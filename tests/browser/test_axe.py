"""Accessible by habit: every page, as a signed-in organizer and as a visitor, passes axe-core with
no violation (WCAG 2.0/2.1 A and AA, WCAG 2.2 AA, best practice) and has exactly one <h1>."""
from pathlib import Path

import pytest
from sqlalchemy import update

from relbuild.extensions import db
from relbuild.models import User

from tests.browser.test_csp import page_urls
from tests.conftest import PASSWORD
from tests.test_authorization import world  # noqa: F401  (a fixture)

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def audit(page) -> list[str]:
    """axe-core's violations on the page as it is now, one line each."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS)
    return [f"{v['id']}: {v['help']} — {[n['target'] for n in v['nodes']][:4]}" for v in result["violations"]]


def visible_h1s(page) -> int:
    return page.evaluate("[...document.querySelectorAll('h1')].filter(h => h.offsetParent !== null).length")


@pytest.fixture
def audited(phone):
    if not AXE.exists():
        pytest.skip(f"{AXE} missing: make vendor (npm ci) installs axe-core from package-lock.json")
    return lambda **more: phone(bypass_csp=True, viewport={"width": 360, "height": 640}, **more).new_page()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_page_has_no_axe_violation_and_one_h1(app, live_server, audited, world, language):  # noqa: F811
    urls = page_urls(app, world)
    assert len(urls) > 20 and "/more" in urls and "/badge" in urls
    organizer = audited()
    organizer.goto(f"{live_server}/login")
    organizer.get_by_label("Email").fill(world["owner"].email)
    organizer.get_by_label("Password").fill(PASSWORD)
    organizer.get_by_role("button", name="Log in").click()
    organizer.wait_for_url("**/people")
    if language != "en":  # French text is longer: labels, buttons and tabs must still fit and read right
        with app.app_context():
            db.session.execute(update(User).where(User.id == world["owner"].id).values(language=language))
            db.session.commit()
    visitor = audited(locale=language)
    problems = []
    for url in urls:
        for who, page in (("organizer", organizer), ("visitor", visitor)):
            page.goto(live_server + url)
            page.wait_for_load_state("load")
            assert page.locator("html").get_attribute("lang") == language, (who, url)
            problems += [f"{who} {url}: {line}" for line in audit(page)]
            if visible_h1s(page) != 1:
                problems.append(f"{who} {url}: {visible_h1s(page)} visible <h1>")
    assert problems == [], "\n".join(problems)


def test_failed_forms_and_open_disclosures_have_no_axe_violation(live_server, audited, make_user):
    page = audited()
    page.set_content("<html><body><img src='x.png'><button></button></body></html>")
    found = " ".join(audit(page))
    assert "image-alt" in found and "button-name" in found  # the audit does find problems
    page.goto(f"{live_server}/register")
    page.get_by_role("button", name="Create my account").click()
    assert audit(page) == []
    person = make_user(name="Ada Audit", headline="Accessibility", values="Care", can_help_with="Reviews")
    me = make_user(values="care")
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(me.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/people")
    page.goto(f"{live_server}/c/{person.token}")
    page.locator("details.more-about summary").click()
    assert audit(page) == []
    page.goto(f"{live_server}/scan")
    page.get_by_label("Badge code").fill("QQQQ-0000")
    page.get_by_role("button", name="Find their badge").click()
    assert audit(page) == []
    for path in ("/badge", "/followups", "/account"):
        page.goto(live_server + path)
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        assert audit(page) == [], path
