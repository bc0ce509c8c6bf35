"""Every page of the app, opened in Chromium in French by a visitor, an attendee and an organizer, shows no
English sentence from the source catalog: not in the text a person reads, not in the labels a screen reader
says (aria-label, alt, placeholder, title), not in the tab's title."""
from __future__ import annotations

from sqlalchemy import update

from relbuild.extensions import db
from relbuild.models import User
from tests.browser.conftest import shot
from tests.browser.test_csp import page_urls
from tests.conftest import PASSWORD
from tests.perception import english_runs
from tests.test_authorization import world  # noqa: F401  (a fixture)

READ = """() => {
  const labels = [...document.querySelectorAll('[aria-label], [alt], [placeholder], [title]')]
    .map(e => ['aria-label', 'alt', 'placeholder', 'title'].map(a => e.getAttribute(a) || '').join(' '));
  return [document.title, document.body.innerText, ...labels].join(' \\n ');
}"""


def _log_in(page, server: str, email: str) -> None:
    page.goto(f"{server}/login")
    page.get_by_label("Courriel").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/people")


def test_every_page_reads_in_french_for_visitors_attendees_and_organizers(app, live_server, phone, world):  # noqa: F811
    with app.app_context():
        db.session.execute(update(User).where(User.id.in_([world["owner"].id, world["attendee"].id]))
                           .values(language="fr"))
        db.session.commit()
    urls = page_urls(app, world)
    assert len(urls) > 20
    english = english_runs("fr")
    visitor = phone(locale="fr-FR").new_page()  # Accept-Language: fr-FR
    organizer, attendee = phone(locale="en-US").new_page(), phone(locale="en-US").new_page()
    visitor.goto(f"{live_server}/login")
    assert visitor.locator("html").get_attribute("lang") == "fr"
    # Signed in, the person's own language wins over an English browser (the switch's cookie only helps
    # them read the login page, and is gone before the pages are read).
    for page, person in ((organizer, world["owner"]), (attendee, world["attendee"])):
        page.context.add_cookies([{"name": "language", "value": "fr", "url": live_server}])
        _log_in(page, live_server, person.email)
        page.context.clear_cookies(name="language")

    found, seen = {}, 0
    for url in urls:
        for role, page in (("visitor", visitor), ("attendee", attendee), ("organizer", organizer)):
            response = page.goto(live_server + url)
            assert response.status < 500, (role, url)
            page.wait_for_load_state("load")
            if "text/html" not in (response.headers.get("content-type") or ""):
                continue
            assert page.locator("html").get_attribute("lang") == "fr", (role, url)
            text = " ".join(page.evaluate(READ).split())
            seen += 1
            left = sorted(run for run in english if run in text)
            if left:
                found[f"{role} {url}"] = left
    assert seen > 60
    assert found == {}
    for name, page, path in (("visitor-home", visitor, "/"), ("organizer-event", organizer,
                                                               f"/events/{world['event_id']}"),
                             ("attendee-people", attendee, "/people")):
        page.goto(live_server + path)
        shot(page, f"fr-{name}")
    assert phone.problems == []
