"""The fair floor on a phone: note first after a scan, no lost taps, then the next person (issue 11)."""
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from relbuild.extensions import db
from relbuild.models import Note
from tests.browser.conftest import ARTIFACTS, shot
from tests.browser.test_pwa import badge_photo, camera_browser, go_offline, sign_in  # noqa: F401  (camera_browser: fixture)

VAGUE = "Great chat, nice guy"
SPECIFIC = "Builds tactile maps for blind hikers; asked how to test them with real trail users."
SHOTS = None


def notes_by(app, user):
    with app.app_context():
        return list(db.session.scalars(sa.select(Note).where(Note.author_id == user.id)))


def count_note_writes(app):
    """Wrap the app so the test sees every PUT /api/notes/… a page or the service worker sends."""
    seen = []
    inner = app.wsgi_app

    def counting(environ, start_response):
        if environ["REQUEST_METHOD"] in ("PUT", "POST") and (environ["PATH_INFO"].startswith("/api/notes/")
                                                             or environ["PATH_INFO"].startswith("/c/")):
            seen.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    app.wsgi_app = counting
    return seen


def screen(page, name: str) -> None:
    """What the person sees: the first screen only (tests/artifacts/screen-<name>.png)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"screen-{name}.png"))


def tab_bar_top(page) -> float:
    return page.locator("nav.tabs").bounding_box()["y"]


@pytest.mark.parametrize("size", [(360, 640), (412, 915)])
def test_note_box_is_on_the_first_screen_under_a_compact_person(live_server, phone, make_user, size):
    person = make_user(name="Bea Builder", headline="Data-viz student who loves maps and accessible transit",
                       values="Kindness, Craft, Curiosity", can_help_with="Portfolio reviews, intros to the local "
                       "design scene, feedback on screen-reader tests", looking_for="A summer internship in civic tech",
                       share_email=True)
    width, height = size
    page = phone(viewport={"width": width, "height": height}).new_page()
    sign_in(page, live_server, make_user(values="craft"))
    page.goto(f"{live_server}/c/{person.token}")
    box = page.get_by_label("What did you talk about? What stood out?").bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= tab_bar_top(page), box
    assert page.locator("h1").count() == 1 and page.locator("h1").inner_text() == "Bea Builder"
    assert page.locator(".person-head .value.shared").inner_text().startswith("Craft")
    more = page.locator("details.more-about")
    assert not more.locator("text=Portfolio reviews").is_visible()
    more.locator("summary").click()  # the rest is one tap away
    expect(more.locator("text=Portfolio reviews")).to_be_visible()
    # not focused on plain navigation: the keyboard would cover the person's name
    assert page.evaluate("document.activeElement.tagName") != "TEXTAREA"
    if size == (360, 640):
        shot(page, "fair-floor-note-360")


@pytest.mark.parametrize("body", [VAGUE, SPECIFIC], ids=["vague", "specific"])
def test_tapping_save_right_after_typing_always_saves(app, live_server, phone, make_user, body):
    me, person = make_user(), make_user(name="Tapio Tapped")
    writes = count_note_writes(app)
    page = phone(viewport={"width": 360, "height": 640}).new_page()
    sign_in(page, live_server, me)
    page.goto(f"{live_server}/c/{person.token}")
    page.evaluate("""() => {
        // kept in sessionStorage: the page navigates away as soon as the note is saved
        const save = document.querySelector('.note-form button[type=submit]');
        const taps = {};
        const keep = () => sessionStorage.setItem('taps', JSON.stringify(taps));
        document.addEventListener('keydown', () => { taps.key = performance.now(); keep(); }, true);
        save.addEventListener('pointerdown', () => {
            taps.down = performance.now(); taps.downTop = save.getBoundingClientRect().top; keep(); }, true);
        save.addEventListener('click', () => { taps.clickTop = save.getBoundingClientRect().top; keep(); }, true);
    }""")
    page.get_by_label("What did you talk about? What stood out?").tap()
    save = page.get_by_role("button", name="Save note")
    save.evaluate("e => e.scrollIntoView({block: 'center'})")  # a thumb scrolls it above the tab bar
    box = save.bounding_box()  # where Save is now is where the finger goes after typing
    page.keyboard.type(body)
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.get_by_role("link", name="Scan next person")).to_be_visible()
    taps = page.evaluate("JSON.parse(sessionStorage.getItem('taps'))")
    assert taps["down"] - taps["key"] < 100, taps  # the tap came within 100 ms of the last keystroke
    assert taps["downTop"] == taps["clickTop"]  # nothing above Save moved between pointerdown and click
    assert [n.body for n in notes_by(app, me)] == [body]
    flash = page.locator(".flashes").inner_text()
    assert "Note about Tapio Tapped saved." in flash
    assert ("Tip: Future you will thank you" in flash) == (body == VAGUE)  # coaching after saving, not before
    saved = page.locator(".note-saved")
    assert body in saved.inner_text() and "edited" not in saved.inner_text()
    assert saved.get_by_role("link", name="Edit note").is_visible()
    page.wait_for_timeout(1500)  # give the service worker's background sync its chance to send it again
    assert len(writes) == 1, writes  # one network write per note


def test_saved_note_to_next_persons_note_box_in_two_taps(app, live_server, camera_browser, make_user):  # noqa: F811
    first, second = make_user(name="Fiona First"), make_user(name="Nico Next", headline="Robotics, cameras")
    me = make_user()
    _, launch = camera_browser
    context = launch(badge_photo(f"{live_server}/c/{second.token}"))
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.set_viewport_size({"width": 360, "height": 640})
    sign_in(page, live_server, me)
    page.goto(f"{live_server}/c/{first.token}")
    screen(page, "1-note-first")
    page.get_by_label("What did you talk about? What stood out?").fill(SPECIFIC)
    page.get_by_label("What could you do for them?").fill("Send her the trail-mapping meetup link")
    screen(page, "2-note-typed")
    page.get_by_role("button", name="Save note").click()
    next_button = page.get_by_role("link", name="Scan next person")
    expect(next_button).to_be_visible()
    box = next_button.bounding_box()
    assert box["y"] + box["height"] <= tab_bar_top(page)  # the next scan is on the first screen too
    screen(page, "3-saved")

    taps = 0
    with page.expect_navigation(url=re.compile(r"/scan$")):
        next_button.tap()
    taps += 1  # the camera starts by itself (permission was granted) and reads the next badge
    screen(page, "4-scanner")
    page.wait_for_url(re.compile(re.escape(f"/c/{second.token}") + "$"))
    screen(page, "5-next-focused")
    box_el = page.get_by_label("What did you talk about? What stood out?")
    expect(box_el).to_be_focused()  # from the scanner: typing starts at once
    box = box_el.bounding_box()
    assert box["y"] + box["height"] <= tab_bar_top(page)
    assert taps <= 2
    save = page.get_by_role("button", name="Save note").bounding_box()
    assert save["y"] + save["height"] <= tab_bar_top(page)  # for a one-line headline, Save is on screen too
    page.keyboard.type("Wants a second reviewer for his lidar thesis chapter.")
    screen(page, "6-next-typed")
    page.get_by_role("button", name="Save note").tap()
    expect(page.locator(".note-saved")).to_contain_text("lidar thesis")
    screen(page, "7-next-saved")
    assert sorted(n.subject_id for n in notes_by(app, me)) == sorted([first.id, second.id])


def test_one_navigation_header_is_one_line_at_320(live_server, phone, make_user):
    page = phone(viewport={"width": 320, "height": 640}).new_page()
    sign_in(page, live_server, make_user())
    for path in ("/people", "/scan", "/badge", "/followups", "/more", "/events", "/profile"):
        page.goto(live_server + path)
        header = page.locator("header.top").bounding_box()
        assert header["height"] <= 64, (path, header)  # one row of 44 px targets
        assert page.locator("header.top nav").count() == 0  # the tab bar is the navigation
        expect(page.locator("[data-sync-status]")).to_be_hidden()  # quiet: nothing is waiting
        labels = page.evaluate("""[...document.querySelectorAll('.tabs a')].map(a =>
            [a.textContent.trim(), a.scrollWidth <= a.clientWidth, a.getBoundingClientRect().height])""")
        assert [label for label, _, _ in labels] == ["Scan", "My badge", "People", "Follow-ups", "Me"]
        assert all(fits and height >= 44 for _, fits, height in labels), labels
    page.goto(live_server + "/people")
    page.get_by_role("link", name="Me", exact=True).click()
    page.get_by_role("link", name="Events").click()
    expect(page.locator("h1")).to_have_text("Events")
    page.get_by_role("link", name="Me", exact=True).click()
    page.get_by_role("link", name="Your profile").click()
    expect(page.locator("h1")).to_have_text("Your profile")
    # the notes page says "Notes on this phone" while online, never "You are offline"
    page.goto(live_server + "/offline")
    expect(page.locator("h1:visible")).to_have_text("Notes on this phone")


def test_disclosures_show_their_marker(live_server, phone, make_user):
    page = phone().new_page()
    sign_in(page, live_server, make_user())
    for path in ("/badge", "/followups", "/scan", "/account"):
        page.goto(live_server + path)
        displays = page.evaluate("[...document.querySelectorAll('summary')].map(s => getComputedStyle(s).display)")
        assert displays and set(displays) == {"list-item"}, (path, displays)


def test_a_failed_form_focuses_an_error_summary_that_links_to_the_field(live_server, phone, make_user):
    page = phone().new_page()
    sign_in(page, live_server, make_user())
    page.goto(f"{live_server}/scan")
    page.get_by_label("Badge code").fill("QQQQ-0000")
    page.get_by_role("button", name="Find their badge").click()
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    assert "There is a problem" in summary.inner_text()
    assert "never use 0, O, 1, I, L and U" in summary.inner_text()
    summary.get_by_role("link").click()
    expect(page.get_by_label("Badge code")).to_be_focused()
    page.goto(f"{live_server}/events")
    assert page.get_by_label("Event code").count() == 1
    # a photo the server cannot read: the error is focused (so scrolled to), not drawn below the fold
    page.goto(f"{live_server}/scan")
    page.get_by_text("Take a photo of the QR code instead").click()
    page.get_by_label("Photo of their badge").set_input_files(
        files=[{"name": "badge.png", "mimeType": "image/png", "buffer": b"not a picture"}])
    page.get_by_role("button", name="Read the photo").click()
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    box = summary.bounding_box()
    assert 0 <= box["y"] and box["y"] + box["height"] <= tab_bar_top(page)
    # a typed code that works opens their note box with the focus, like a camera scan
    person = make_user(name="Tomas Typed")
    page.get_by_label("Badge code").fill(person.short_code.lower())
    page.get_by_role("button", name="Find their badge").click()
    expect(page.get_by_label("What did you talk about? What stood out?")).to_be_focused()
    visitor = phone().new_page()  # sign-up (GOV.UK pattern on every failed form)
    visitor.goto(f"{live_server}/register")
    visitor.get_by_role("button", name="Create my account").click()
    summary = visitor.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    summary.get_by_role("link").first.click()
    assert visitor.evaluate("document.activeElement.tagName") == "INPUT"


@pytest.mark.parametrize("width", [320, 360])
def test_badge_page_has_a_heading_a_share_button_and_an_unbroken_link(live_server, phone, make_user, width):
    me = make_user(name="Bea Builder", headline="Data-viz student who loves maps")
    context = phone(viewport={"width": width, "height": 640}, permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    sign_in(page, live_server, me)
    page.goto(live_server + "/badge")
    assert page.locator("h1").inner_text() == "Bea Builder"
    token_lines = page.evaluate("document.querySelector('.badge-link .token').getClientRects().length")
    assert token_lines == 1  # the link never breaks inside the token
    link = page.locator(".badge-link a")
    assert link.inner_text().replace("\n", "") == f"{live_server}/c/{me.token}"
    code = page.locator("[data-short-code]").bounding_box()
    assert code["y"] + code["height"] <= tab_bar_top(page)  # the short code is not under the tab bar
    share = page.get_by_role("button", name=re.compile("Share my badge|Copy my badge link"))
    expect(share).to_be_visible()
    if share.inner_text() == "Copy my badge link":  # Linux Chromium has no Web Share: copying stands in
        share.click()
        expect(page.locator("[data-share-status]")).to_contain_text("Link copied")
        assert page.evaluate("navigator.clipboard.readText()") == f"{live_server}/c/{me.token}"
    if width == 360:
        page.screenshot(path=str(shot(page, "badge-360")))


def test_offline_note_about_an_unknown_badge_asks_who_and_people_updates_without_reload(
        app, live_server, phone, make_user):
    me, person = make_user(), make_user(name="Maya Real")
    context = phone()
    page = context.new_page()
    sign_in(page, live_server, me)
    people = context.new_page()
    people.goto(f"{live_server}/people")
    people.evaluate("window.notReloaded = true")
    go_offline(context, page, f"{live_server}/c/{person.token}")
    expect(page.locator("[data-person-name]")).to_contain_text("Badge …")
    page.get_by_label("Who is this? (optional)").fill("Maya, robotics booth")
    page.get_by_label("What did you talk about? What stood out?").fill(SPECIFIC)
    page.get_by_role("button", name="Save note").click()
    expect(page.locator(".form-message")).to_contain_text("Saved on this phone")
    expect(page.get_by_role("link", name="Scan next person")).to_be_visible()
    page.goto(f"{live_server}/offline#waiting")
    expect(page.locator("[data-outbox-list] li")).to_contain_text("Maya, robotics booth")
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    # the open People page shows the synced note under the person's real name, without a reload
    expect(people.locator(".person")).to_contain_text("Maya Real", timeout=30_000)
    assert people.evaluate("window.notReloaded === true")
    assert [n.body for n in notes_by(app, me)] == [SPECIFIC]
