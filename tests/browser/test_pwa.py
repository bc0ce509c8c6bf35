"""The installable, offline-capable app in real Chromium: service worker, outbox sync, camera scanning."""
import io
import re

import pytest
import sqlalchemy as sa
from PIL import Image
from playwright.sync_api import expect

from relbuild.extensions import db
from relbuild.models import Note
from relbuild.services.badges import qr_png
from tests.browser.conftest import CHROMIUM, LAUNCH_ARGS, phone_context, shot
from tests.conftest import PASSWORD

BODY = "Talked about accessible transit maps; she wants feedback on her screen-reader tests."


def sign_in(page, base, user):
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/people$"))
    # the service worker is installed and controls the page after one more load
    page.evaluate("navigator.serviceWorker.ready")
    page.reload()
    assert page.evaluate("!!navigator.serviceWorker.controller")


def notes_by(app, user) -> list[Note]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Note).where(Note.author_id == user.id)))


def go_offline(context, page, url: str) -> None:
    """Cut the network and open `url`, as the service worker answers offline (its shell).

    Chromium applies the offline emulation to the service worker a moment after the page: under load
    the first navigation can still reach the server, so open the page again until the shell answers.
    """
    context.set_offline(True)
    for _ in range(40):
        page.goto(url)
        if page.locator("[data-offline-shell]").count():
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"{url} was never answered by the offline shell")


def test_manifest_and_icons_make_it_installable(live_server, phone):
    page = phone().new_page()
    page.goto(live_server + "/")
    href = page.locator('link[rel="manifest"]').get_attribute("href")
    manifest = page.request.get(live_server + href)
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    data = manifest.json()
    assert data["display"] == "standalone" and data["scope"] == "/" and data["start_url"]
    assert data["name"] == "Relbuild" and data["short_name"] and data["theme_color"] and data["background_color"]
    sizes = {}
    for icon in data["icons"]:
        image = Image.open(io.BytesIO(page.request.get(live_server + icon["src"]).body()))
        assert f"{image.width}x{image.height}" == icon["sizes"]
        sizes.setdefault(icon["purpose"], set()).add(icon["sizes"])
    assert {"192x192", "512x512"} <= sizes["any"] and "512x512" in sizes["maskable"]
    assert page.locator('link[rel="apple-touch-icon"]').count() == 1
    sw = page.request.get(live_server + "/sw.js")
    assert sw.headers["service-worker-allowed"] == "/" and "no-cache" in sw.headers["cache-control"]


def test_service_worker_controls_the_page_and_offline_reload_shows_the_shell(live_server, phone, make_user):
    context = phone()
    page = context.new_page()
    sign_in(page, live_server, make_user())
    context.set_offline(True)
    page.reload()
    assert "You are offline" in page.content()
    assert page.locator("nav.tabs").is_visible()
    shot(page, "offline-shell")
    page.goto(live_server + "/followups")  # any page: the shell stands in
    assert "What still works" in page.content()
    context.set_offline(False)


def test_five_notes_offline_sync_exactly_once_when_back_online(app, live_server, phone, make_user):
    me = make_user(name="Owen Offline")
    people = [make_user(name=f"Person {n}") for n in range(5)]
    context = phone()
    page = context.new_page()
    sign_in(page, live_server, me)
    page.goto(f"{live_server}/c/{people[0].token}")  # seen once online: the name is remembered
    page.wait_for_function("t => RelbuildOutbox.person(t).then(p => !!p)", arg=people[0].token)
    go_offline(context, page, f"{live_server}/c/{people[0].token}")
    for n, person in enumerate(people):
        page.goto(f"{live_server}/c/{person.token}")  # what the phone camera opens, served by the service worker
        heading = page.locator("[data-person-name]")
        if n == 0:
            expect(heading).to_have_text("Person 0")
        else:
            expect(heading).to_contain_text("Badge …")
        page.get_by_label("What did you talk about? What stood out?").fill(f"{BODY} (#{n})")
        page.get_by_label("What could you do for them?").fill("Send the WCAG checklist")
        page.get_by_role("button", name="Save note").click()
        expect(page.locator(".form-message")).to_contain_text("Saved on this phone")
    expect(page.locator("[data-sync-status]")).to_have_text("5 notes waiting to sync")
    shot(page, "offline-five-waiting")
    page.reload()  # still offline: the notes are on the phone, not in the page
    expect(page.locator("[data-sync-status]")).to_have_text("5 notes waiting to sync")
    assert notes_by(app, me) == []

    context.set_offline(False)
    expect(page.locator("[data-sync-status]")).to_be_hidden(timeout=30_000)  # quiet when all is synced
    notes = notes_by(app, me)
    assert sorted(n.body for n in notes) == sorted(f"{BODY} (#{n})" for n in range(5))
    assert all(n.offer == "Send the WCAG checklist" for n in notes)
    page.goto(f"{live_server}/people")
    assert page.locator(".person").count() == 5


def test_flaky_network_still_gives_exactly_one_note_each(app, live_server, phone, make_user):
    me = make_user()
    people = [make_user(name=f"Flaky {n}") for n in range(4)]
    context = phone()
    page = context.new_page()
    sign_in(page, live_server, me)
    calls = []

    def every_other(route):
        calls.append(route.request.url)
        if len(calls) % 2:
            route.abort("connectionreset")
        else:
            route.continue_()

    context.route("**/api/notes/*", every_other)
    for n, person in enumerate(people):
        page.goto(f"{live_server}/c/{person.token}")
        page.get_by_label("What did you talk about? What stood out?").fill(f"{BODY} (flaky {n})")
        page.get_by_role("button", name="Save note").click()
        # either synced at once (the page reloads with the saved note) or kept for a retry
        expect(page.locator(".form-message, .flashes").first).to_contain_text(
            re.compile("Saved on this phone|saved"), timeout=30_000)
        expect(page.locator("[data-sync-status]")).to_be_hidden(timeout=30_000)  # quiet when all is synced
    assert len(calls) >= 8  # every note was refused once, then retried
    notes = notes_by(app, me)
    assert sorted(n.body for n in notes) == sorted(f"{BODY} (flaky {n})" for n in range(4))


def test_a_refused_note_stays_on_the_phone_marked_for_the_person_to_fix(app, live_server, phone, make_user):
    me, person = make_user(), make_user(name="Rita Refused")
    context = phone()
    page = context.new_page()
    sign_in(page, live_server, me)
    page.goto(f"{live_server}/c/{person.token}")
    go_offline(context, page, f"{live_server}/c/{person.token}")
    page.get_by_label("What did you talk about? What stood out?").fill("x" * 2001)  # over the server's limit
    page.evaluate("document.querySelector('#shell-body').removeAttribute('maxlength')")
    page.get_by_label("What did you talk about? What stood out?").fill("y" * 2001)
    page.get_by_role("button", name="Save note").click()
    context.set_offline(False)
    expect(page.locator("[data-sync-status]")).to_have_text("1 note needs you", timeout=30_000)
    page.goto(f"{live_server}/offline#waiting")
    item = page.locator("[data-outbox-list] li")
    assert "Keep the note under 2,000 characters." in item.inner_text()
    item.locator("textarea").fill(BODY)
    item.get_by_role("button", name="Save and try again").click()
    expect(page.locator("[data-sync-status]")).to_be_hidden(timeout=30_000)  # quiet when all is synced
    assert [n.body for n in notes_by(app, me)] == [BODY]


def y4m_of(image: Image.Image, path, frames: int = 10) -> None:
    """Write a YUV4MPEG2 (C420) video that shows `image` still, for Chromium's fake camera."""
    width, height = image.size
    y, cb, cr = image.convert("YCbCr").split()
    quarter = (width // 2, height // 2)
    frame = b"FRAME\n" + y.tobytes() + cb.resize(quarter).tobytes() + cr.resize(quarter).tobytes()
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        out.write(frame * frames)


@pytest.fixture
def camera_browser(playwright_browser, tmp_path):
    """A Chromium whose camera films a file; call it with the image to show."""
    p, _ = playwright_browser
    browsers = []

    def launch(image: Image.Image):
        video = tmp_path / "camera.y4m"
        y4m_of(image, video)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS + [
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"])
        browsers.append(browser)
        return phone_context(p, browser, permissions=["camera"])

    yield p, launch
    for browser in browsers:
        browser.close()


def badge_photo(link: str) -> Image.Image:
    """A camera frame: the badge QR held up against a grey background."""
    frame = Image.new("RGB", (640, 480), (120, 120, 120))
    qr = Image.open(io.BytesIO(qr_png(link))).convert("RGB").resize((380, 380), Image.NEAREST)
    frame.paste(qr, (130, 50))
    return frame


def test_in_app_scanner_reads_a_badge_from_the_camera(live_server, camera_browser, make_user):
    person = make_user(name="Cam Scanned", headline="Robotics and cameras")
    _, launch = camera_browser
    context = launch(badge_photo(f"{live_server}/c/{person.token}"))
    page = context.new_page()
    sign_in(page, live_server, make_user())
    page.goto(f"{live_server}/scan")
    page.wait_for_url(re.compile(re.escape(f"/c/{person.token}") + "$"), timeout=20_000)
    assert page.locator("h1").inner_text() == "Cam Scanned"
    assert not page.evaluate("'BarcodeDetector' in window")  # Linux Chromium: the jsQR path was used


def test_scanner_explains_a_qr_that_is_not_a_badge(live_server, camera_browser, make_user):
    _, launch = camera_browser
    context = launch(badge_photo("https://example.org/menu"))
    page = context.new_page()
    sign_in(page, live_server, make_user())
    page.goto(f"{live_server}/scan")
    status = page.locator(".scanner-status")
    status.filter(has_text="not a Relbuild badge").wait_for(timeout=20_000)
    assert "It contains: https://example.org/menu" in status.inner_text()
    shot(page, "scanner-other-qr")


def test_camera_denied_explains_and_offers_fallbacks(live_server, phone, make_user):
    context = phone()
    page = context.new_page()
    sign_in(page, live_server, make_user())
    page.goto(f"{live_server}/scan")
    page.get_by_role("button", name="Start camera").click()
    help_text = page.locator(".scanner-help")
    help_text.wait_for()
    assert "type their code" in help_text.inner_text().lower()
    assert page.get_by_role("link", name="Type a code instead").is_visible()
    shot(page, "scanner-denied")
