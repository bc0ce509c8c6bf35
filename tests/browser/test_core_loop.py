"""Two people on phones: sign up, show a badge, scan it, keep and edit one note, see the connection."""
import re

import zxingcpp
from PIL import Image

from tests.browser.conftest import ARTIFACTS, shot

BODY = "Building a bike-sharing app for her thesis; asked how to recruit real riders for usability tests."


def register(page, base, name, email, password="quiet river morning"):
    page.goto(f"{base}/register")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url(re.compile(r"/profile"))


def test_two_people_connect_and_keep_one_note(live_server, phone):
    bea = phone(timezone_id="Europe/Paris").new_page()
    register(bea, live_server, "Bea Builder", "bea@example.com")
    # the browser's time zone was taken into the profile
    assert bea.get_by_label("Time zone").input_value() == "Europe/Paris"
    bea.get_by_label("About you, in one line").fill("Data-viz student who loves maps")
    bea.get_by_role("button", name="Kindness").click()
    bea.get_by_role("button", name="Craft").click()
    assert bea.get_by_label("Values that matter to you in work").input_value() == "Kindness, Craft"
    shot(bea, "profile")
    bea.get_by_role("button", name="Save profile").click()
    bea.wait_for_url(re.compile(r"/badge$"))
    shot(bea, "badge")

    # the QR on screen decodes to the badge link shown as text
    link = bea.locator(".badge-link a").inner_text()
    assert re.fullmatch(re.escape(live_server) + r"/c/[A-Za-z0-9_-]{32,}", link)
    ARTIFACTS.mkdir(exist_ok=True)
    bea.locator(".badge-qr").screenshot(path=str(ARTIFACTS / "badge-qr.png"))
    decoded = [r.text for r in zxingcpp.read_barcodes(Image.open(ARTIFACTS / "badge-qr.png"))]
    assert decoded == [link]
    code = bea.locator("[data-short-code]").get_attribute("data-short-code")
    assert len(code) >= 8

    ann = phone().new_page()
    register(ann, live_server, "Ann Author", "ann@example.com")
    ann.get_by_label("Values that matter to you in work").fill("craft, honesty")
    ann.get_by_role("button", name="Save profile").click()
    ann.goto(decoded[0])  # what the phone camera does with the QR
    assert ann.locator(".value.shared").first.inner_text().startswith("Craft")
    ann.get_by_label("What did you talk about? What stood out?").fill("great chat")
    ann.get_by_label("What could you do for them?").fill("Send her the UX meetup link")
    shot(ann, "note-form")
    with ann.expect_navigation():  # saved on the phone, synced, then the page shows the server's copy
        ann.get_by_role("button", name="Save note").click()
    assert "Tip: Future you will thank you" in ann.locator(".flashes").inner_text()

    # saved: the note read-only, Edit one tap away, and the next scan as the primary action
    assert ann.get_by_role("link", name="Scan next person").is_visible()
    assert "great chat" in ann.locator(".note-saved").inner_text()
    ann.get_by_role("link", name="Edit note").click()
    ann.get_by_label("What did you talk about? What stood out?").fill(BODY)
    with ann.expect_navigation():
        ann.get_by_role("button", name="Save changes").click()
    assert "Note about Bea Builder saved." in ann.locator(".flashes").inner_text()
    assert BODY in ann.locator(".note-saved").inner_text()
    shot(ann, "note-saved")

    ann.get_by_role("link", name="People").click()
    assert ann.locator(".person").count() == 1
    assert "Bea Builder" in ann.locator(".person").inner_text()
    assert "You offered: Send her the UX meetup link" in ann.locator(".person").inner_text()
    ann.get_by_label("Search your people and notes").fill("riders")
    ann.get_by_role("button", name="Search").click()
    assert ann.locator(".person").count() == 1
    shot(ann, "people")

    bea.goto(f"{live_server}/people")
    waiting = bea.locator(".waiting")
    assert "Ann Author connected with you — write your note" in waiting.inner_text()
    assert "riders" not in bea.content() and "UX meetup" not in bea.content()
    shot(bea, "connected")
    waiting.get_by_role("link").click()
    bea.get_by_label("What did you talk about? What stood out?").fill("Ann runs the design society and wants speakers")
    bea.get_by_role("button", name="Save note").click()
    assert "Note about Ann Author saved." in bea.locator(".flashes").inner_text()

    # typing the code instead of scanning gets to the same page
    ann.goto(f"{live_server}/scan")
    ann.get_by_label("Badge code").fill(code.lower())
    ann.get_by_role("button", name="Find their badge").click()
    assert ann.url == link
    assert BODY in ann.locator(".note-saved").inner_text()
    assert phone.problems == []


def test_core_forms_work_without_javascript(live_server, phone, make_user):
    person = make_user(name="Cy Coder")
    page = phone(java_script_enabled=False).new_page()
    register(page, live_server, "No Script", "noscript@example.com")
    page.goto(f"{live_server}/scan")
    page.get_by_label("Badge code").fill(person.short_code)
    page.get_by_role("button", name="Find their badge").click()
    page.get_by_label("What did you talk about? What stood out?").fill(BODY)
    page.get_by_role("button", name="Save note").click()
    assert "Note about Cy Coder saved." in page.locator(".flashes").inner_text()
    page.goto(f"{live_server}/profile")
    page.get_by_role("button", name="Log out").click()
    page.goto(f"{live_server}/people")
    assert "/login" in page.url


def test_pages_fit_a_360px_phone(live_server, phone, make_user):
    person = make_user(name="Dee Designer", headline="Service design, accessibility and public transport",
                       values="Curiosity, Fairness, Craft", can_help_with="Portfolio reviews",
                       looking_for="A junior design role")
    context = phone(viewport={"width": 360, "height": 640}, device_scale_factor=2)
    page = context.new_page()
    register(page, live_server, "Eve Example", "eve@example.com")
    page.goto(f"{live_server}/c/{person.token}")
    page.get_by_label("What did you talk about? What stood out?").fill(BODY)
    with page.expect_navigation():
        page.get_by_role("button", name="Save note").click()
    visitor = phone(viewport={"width": 360, "height": 640}).new_page()
    urls = ["/profile", "/badge", "/people", "/scan", "/connect", f"/c/{person.token}", "/c/unknown-token",
            "/more", "/followups", "/events", "/offline"]
    for path in urls:
        page.goto(live_server + path)
        check_layout(page, path)
        shot(page, "360" + (path.replace("/", "_") if len(path) < 20 else "_c_person"))
    for path in ["/", "/register", "/login", f"/c/{person.token}"]:
        visitor.goto(live_server + path)
        check_layout(visitor, "visitor " + path)
        shot(visitor, "360-visitor" + path.replace("/", "_")[:20])
    assert phone.problems == []


def check_layout(page, label):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{label}: horizontal scroll ({width}px)"
    small = page.evaluate("""() => [...document.querySelectorAll(
        'button, .btn, input:not([type=hidden]):not([type=checkbox]):not([type=radio]), select, textarea, ' +
        '.tabs a, .top-links a, .chip, .check')]  // a checkbox or radio is tapped anywhere on its row, label included
        .filter(el => el.offsetParent !== null)
        .map(el => [el.outerHTML.slice(0, 60), el.getBoundingClientRect()])
        .filter(([_, r]) => r.height < 44 || r.width < 44)
        .map(([html, r]) => html + ' ' + Math.round(r.width) + 'x' + Math.round(r.height))""")
    assert small == [], f"{label}: tap targets under 44px: {small}"
    font = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert font >= 16, f"{label}: body text {font}px"
