"""The organizer's pages on a phone, as seen: tools first, full-size fields, readable chart, whole tiles, one-line names."""
from __future__ import annotations

from datetime import datetime

import pytest

from relbuild.extensions import db
from relbuild.models import User
from relbuild.services.events import create_event, join_event
from relbuild.services.notes import save_note
from relbuild.services.outcomes import outcomes
from tests.browser.conftest import shot
from tests.browser.test_pwa import sign_in

PHONES = {"360x640": {"width": 360, "height": 640}, "412x915": {"width": 412, "height": 915}}
TOOLS = ["Print the poster", "Invite attendees", "Print badges", "Open the dashboard"]


@pytest.fixture
def fair(app, make_user):
    """An event with twelve active attendees (so the dashboard publishes its figures) and one who only joined."""
    organizer = make_user(name="Olga Organizer")
    active = [make_user(name=name, headline="Looking for a design internship")
              for name in ("Ana Ruiz", "Émile Gaudé", "Hana Ito", "Zoë Łukasiewicz-Ødegård", "王小明", "Bo Li",
                           "Pat Quinn", "Rui Sato", "Sam Tran", "Tom Udo", "Uma Vale", "Val Wynn")]
    lurker = make_user(name="Maximilian Alexander von Hohenzollern-Sigmaringen")
    with app.app_context():
        event = create_event(db.session.get(User, organizer.id), name="Campus Career Fair Winter 2026",
                             venue="Main Hall", starts_at="2026-03-14T09:00", ends_at="2026-03-14T17:00",
                             timezone="UTC")
        join_event(db.session.get(User, lurker.id), event)
        for n, person in enumerate(active):
            join_event(db.session.get(User, person.id), event)
            save_note(db.session.get(User, person.id), db.session.get(User, active[(n + 1) % len(active)].id),
                      "Talked about bike lanes and a mentoring scheme.", offer="An intro" if n % 2 else "",
                      met_at=datetime(2026, 3, 14, 9 + n % 6, 15))
        db.session.commit()
        outcomes(event, noise=lambda scale: 0)  # publish the figures now, without noise: the layout is under test
        return organizer, event.id


@pytest.mark.parametrize("size", list(PHONES))
def test_organizer_pages_on_a_phone(app, live_server, phone, fair, size):
    organizer, event_id = fair
    page = phone(viewport=PHONES[size]).new_page()
    sign_in(page, live_server, organizer)
    height = PHONES[size]["height"]

    # The event page leads with the organizer's four tools, big, on the first screen; joining comes after.
    page.goto(f"{live_server}/events/{event_id}")
    boxes = [page.get_by_role("link", name=name, exact=True).bounding_box() for name in TOOLS]
    assert all(box["y"] + box["height"] <= height and box["height"] >= 56 for box in boxes), boxes
    join = page.get_by_role("button", name="Join as an attendee")
    assert join.bounding_box()["y"] > max(box["y"] + box["height"] for box in boxes)
    assert "btn-primary" not in join.get_attribute("class")
    shot(page, f"organizer-event-{size}")

    # Date-time fields as tall and as wide as the other fields.
    page.goto(f"{live_server}/events/{event_id}/edit")
    name, starts, ends = (page.get_by_label(label, exact=True).bounding_box() for label in ("Event name", "Starts", "Ends"))
    for box in (starts, ends):
        assert box["height"] >= 44 and abs(box["width"] - name["width"]) < 2, (box, name)
    shot(page, f"organizer-edit-{size}")

    # Dashboard: every tile shares its row or fills it; every piece of chart text at least 12 px tall.
    page.goto(f"{live_server}/events/{event_id}/dashboard")
    tiles = [t.bounding_box() for t in page.locator(".stats > .card").all()]
    assert len(tiles) == 5
    full = page.locator(".stats").bounding_box()["width"]
    for tile in tiles:
        beside = [t for t in tiles if t is not tile and abs(t["y"] - tile["y"]) < 2]
        assert beside or abs(tile["width"] - full) < 2, tiles
    sizes = page.eval_on_selector_all(".hours th, .hours td .count",
                                      "cells => cells.map(c => parseFloat(getComputedStyle(c).fontSize))")
    assert len(sizes) > 8 and min(sizes) >= 12, sizes
    shot(page, f"organizer-dashboard-{size}")

    # Attendees in collation order ("Émile" with the Es); a name that fits the row is on one line, and a long
    # one wraps between words but is shown whole.
    page.goto(f"{live_server}/events/{event_id}/attendees")
    names = page.locator(".attendee-name")
    assert names.all_inner_texts()[:4] == ["Ana Ruiz", "Bo Li", "Émile Gaudé", "Hana Ito"]
    lines = dict(zip(names.all_inner_texts(), names.evaluate_all("""els => els.map(el => {
        const range = document.createRange(); range.selectNodeContents(el);
        return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size; })""")))
    long_name = "Maximilian Alexander von Hohenzollern-Sigmaringen"
    assert {name: count for name, count in lines.items() if name != long_name and count != 1} == {}, lines
    assert names.evaluate_all("els => els.every(el => el.scrollWidth <= el.clientWidth)")
    shot(page, f"organizer-attendees-{size}")
    assert phone.problems == []
