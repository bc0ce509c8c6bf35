"""On a 360 x 640 phone: a new person signs up and confirms their address from the email; an organizer's
invitation is accepted from its email; the account page lists the devices (issue 13)."""
import re

from playwright.sync_api import expect

from relbuild.extensions import db
from relbuild.models import Event, User
from relbuild.services.events import create_event
from relbuild.services.invitations import invite
from tests.browser.conftest import shot
from tests.browser.test_core_loop import check_layout, register

SMALL_PHONE = {"viewport": {"width": 360, "height": 640}}


def link(message, path: str, base: str) -> str:
    return re.search(rf"({re.escape(base)}{path}\S+)", message.get_body(("plain",)).get_content()).group(1)


def in_view(page, locator) -> bool:
    box = locator.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= page.viewport_size["height"]


def test_sign_up_confirm_accept_an_invitation_and_see_my_devices(app, live_server, phone, runner, mailbox,
                                                                  make_user):
    organizer = make_user(name="Olga Organizer", email="olga@example.com")
    page = phone(**SMALL_PHONE).new_page()
    register(page, live_server, "Ada Lovelace", "ada@example.com")
    expect(page.locator(".flashes")).to_contain_text("We sent an email to ada@example.com")
    page.goto(f"{live_server}/followups")
    notice = page.get_by_role("heading", name="Confirm your email address")
    assert in_view(page, notice)  # the app says how, on the first screen
    check_layout(page, "follow-ups with the notice")

    runner.invoke(args=["followups", "send-due"])
    confirm = link(mailbox.to("ada@example.com")[0], "/email/confirm/", live_server)
    page.goto(confirm)
    button = page.get_by_role("button", name="Confirm ada@example.com")
    assert in_view(page, button)
    shot(page, "confirm-email")
    button.click()
    expect(page.locator("h1")).to_have_text("Thank you")
    page.goto(f"{live_server}/followups")
    assert page.get_by_role("heading", name="Confirm your email address").count() == 0

    with app.app_context():
        olga = db.session.get(User, organizer.id)
        event = create_event(olga, name="Spring Career Fair", venue="Main Hall", starts_at="2027-03-14T10:00",
                             ends_at="2027-03-14T16:00", timezone="Europe/Berlin")
        invite(db.session.get(Event, event.id), olga, [{"email": "ada@example.com", "name": "Ada"}])
    runner.invoke(args=["followups", "send-due"])
    invitation = mailbox.to("ada@example.com")[-1]
    assert invitation["Subject"] == "Invitation to “Spring Career Fair” on Relbuild"
    page.goto(link(invitation, "/invitations/", live_server))
    expect(page.locator("h1")).to_have_text("Spring Career Fair")
    accept = page.get_by_role("button", name="Accept the invitation")
    accept.scroll_into_view_if_needed()
    check_layout(page, "invitation")
    shot(page, "invitation")
    accept.click()
    expect(page.locator(".flashes")).to_contain_text("You joined Spring Career Fair")

    page.goto(f"{live_server}/account")
    devices = page.get_by_role("heading", name="Devices")
    devices.scroll_into_view_if_needed()
    expect(page.locator(".sessions")).to_contain_text("this device")
    expect(page.locator(".sessions")).to_contain_text("Chrome on Android")
    check_layout(page, "account")
    shot(page, "account-devices")
    assert phone.problems == []
