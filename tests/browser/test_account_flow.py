"""A person owns their data, on a 360 px phone: export, calendar link, password change, reset, deletion."""
import json
import re
import zipfile

from tests.browser.conftest import shot
from tests.browser.test_core_loop import BODY, check_layout, register

PASSWORD = "quiet river morning"
NEW_PASSWORD = "amber kite evening"


def small_phone(phone):
    return phone(viewport={"width": 360, "height": 640}, device_scale_factor=2)


def test_export_calendar_password_and_delete_on_a_phone(live_server, phone, make_user, tmp_path):
    person = make_user(name="Rae Researcher", share_email=True)
    page = small_phone(phone).new_page()
    register(page, live_server, "Ola Owner", "ola@example.com")
    page.goto(f"{live_server}/c/{person.token}")
    page.get_by_label("What did you talk about? What stood out?").fill(BODY)
    with page.expect_navigation():
        page.get_by_role("button", name="Save note").click()
    laptop = small_phone(phone).new_page()
    laptop.goto(f"{live_server}/login")
    laptop.get_by_label("Email").fill("ola@example.com")
    laptop.get_by_label("Password").fill(PASSWORD)
    laptop.get_by_role("button", name="Log in").click()
    laptop.wait_for_url(re.compile(r"/people"))

    page.goto(f"{live_server}/profile")
    page.get_by_role("link", name=re.compile("Account and data")).click()
    page.wait_for_url(re.compile(r"/account$"))
    check_layout(page, "/account")
    shot(page, "360_account")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download my data (ZIP)").click()
    archive = zipfile.ZipFile(download.value.path())
    assert json.loads(archive.read("notes.json"))[0]["body"] == BODY
    assert "contacts/Rae-Researcher.vcf" in archive.namelist()

    page.get_by_role("button", name="Make my calendar link").click()
    feed = page.locator("#calendar .badge-link a").inner_text()
    assert re.fullmatch(rf"{re.escape(live_server)}/calendar/[\w-]+\.ics", feed)
    check_layout(page, "/account with a calendar link")
    shot(page, "360_account_calendar")

    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    assert "Every other device was signed out" in page.locator(".flashes").inner_text()
    laptop.goto(f"{live_server}/people")
    assert "/login" in laptop.url  # the other device is signed out

    page.get_by_text("Delete my account", exact=True).click()
    page.get_by_label("Your password").last.fill("not the password")
    page.get_by_label("Type DELETE to confirm").fill("DELETE")
    page.get_by_role("button", name="Delete my account and notes").click()
    assert "not your current password" in page.locator("details[open]").inner_text()
    shot(page, "360_account_delete_refused")
    page.get_by_label("Your password").last.fill(NEW_PASSWORD)
    page.get_by_label("Type DELETE to confirm").fill("DELETE")
    page.get_by_role("button", name="Delete my account and notes").click()
    page.wait_for_url(live_server + "/")
    assert "Your account and your notes were deleted" in page.locator(".flashes").inner_text()
    assert phone.problems == []


def test_forgot_password_pages_on_a_phone(live_server, phone, make_user):
    visitor = small_phone(phone).new_page()
    visitor.goto(f"{live_server}/login")
    visitor.get_by_role("link", name="Forgot your password?").click()
    check_layout(visitor, "/password/forgot")
    shot(visitor, "360_password_forgot")
    visitor.get_by_label("Email").fill("someone@example.com")
    visitor.get_by_role("button", name="Send me a link").click()
    assert "Check your email" in visitor.locator("h1").inner_text()
    check_layout(visitor, "forgot sent")
    visitor.goto(f"{live_server}/password/reset/not-a-real-link")
    assert visitor.get_by_role("link", name="Send me a new link").is_visible()
    shot(visitor, "360_password_reset_invalid")
    assert phone.problems == []
