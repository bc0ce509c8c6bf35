"""An organizer on a phone creates an event; an attendee joins by scanning the poster; the dashboard counts
who joined, and says when the activity figures come."""
import re
from datetime import datetime, timedelta, timezone

import pypdfium2
import zxingcpp
from playwright.sync_api import expect

from tests.browser.conftest import shot
from tests.browser.test_pwa import camera_browser, sign_in  # noqa: F401  (fixture and helper)


def test_organizer_creates_event_attendee_joins_by_poster_qr_and_dashboard_counts(
        app, live_server, phone, camera_browser, make_user):  # noqa: F811
    organizer, attendee, person = make_user(name="Olga Organizer"), make_user(name="Ann Attendee"), make_user(
        name="Bea Builder")

    org = phone().new_page()
    sign_in(org, live_server, organizer)
    org.goto(f"{live_server}/events/new")
    org.get_by_label("Event name").fill("Phone Fair")
    org.get_by_label("Venue").fill("Hall B")
    now = datetime.now(timezone.utc)
    org.get_by_label("Starts").fill(f"{now - timedelta(days=1):%Y-%m-%dT%H:%M}")
    org.get_by_label("Ends").fill(f"{now + timedelta(days=2):%Y-%m-%dT%H:%M}")  # on now: the note below is tagged
    org.get_by_label("Time zone").select_option("UTC")
    org.get_by_role("button", name="Create event").click()
    errors = org.locator(".error").all_inner_texts()
    assert errors == [], errors
    expect(org.locator(".flashes")).to_contain_text("Event created")
    event_url = org.url
    poster = org.request.get(live_server + org.get_by_role("link", name="Print the poster").get_attribute("href"))
    assert poster.headers["content-type"] == "application/pdf"

    # the attendee's phone camera films the printed poster
    page_image = pypdfium2.PdfDocument(poster.body())[0].render(scale=1).to_pil().convert("RGB")
    qr = zxingcpp.read_barcodes(page_image)[0].position
    top = max(0, min(qr.top_left.y, qr.top_right.y) - 40)
    frame = page_image.crop((0, top, page_image.width, top + page_image.width * 3 // 4)).resize((640, 480))
    _, launch = camera_browser
    phone_of_ann = launch(frame).new_page()
    sign_in(phone_of_ann, live_server, attendee)
    phone_of_ann.goto(f"{live_server}/scan")
    phone_of_ann.wait_for_url(re.compile(r"/e/[A-Z0-9]{8}$"), timeout=20_000)
    phone_of_ann.get_by_role("button", name="Join Phone Fair").click()
    expect(phone_of_ann.locator(".flashes")).to_contain_text("You joined Phone Fair")

    phone_of_ann.goto(f"{live_server}/c/{person.token}")
    phone_of_ann.get_by_label("What did you talk about? What stood out?").fill(
        "Bea prints badges with a laser cutter; wants a UX intern")
    with phone_of_ann.expect_navigation():
        phone_of_ann.get_by_role("button", name="Save note").click()

    org.goto(event_url + "/dashboard")
    assert org.locator('[data-stat="joined"]').inner_text() == "1"
    assert org.locator('[data-stat="notes"]').count() == 0  # nothing live: the first figures come after the event
    expect(org.locator("#about-title + p")).to_contain_text("The first figures come on")
    assert "laser cutter" not in org.content()
    shot(org, "dashboard")
    assert phone.problems == []

