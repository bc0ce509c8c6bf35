"""Real Chromium (Debian's) driven by Playwright, against the app served on a free local port."""
from __future__ import annotations

import os
import shutil
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-quic"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def playwright_browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM}: apt-get install chromium (bash .ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield p, browser
        browser.close()


@pytest.fixture
def live_server(app):
    """Serve the test app over real HTTP; badge links point at this server."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    old_base = app.config["BASE_URL"]
    app.config["BASE_URL"] = url
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url
    server.shutdown()
    thread.join(5)
    app.config["BASE_URL"] = old_base


def phone_context(p, browser, **overrides):
    """A Pixel 7 browser context whose page clock starts at the test's (frozen) time.

    Notes written offline carry the page's time: it must be the test's, not the machine's date.
    """
    context = browser.new_context(**{**p.devices["Pixel 7"], **overrides})
    context.clock.install(time=datetime.now(timezone.utc))  # then it runs on as usual
    return context


@pytest.fixture
def phone(playwright_browser):
    """Make phone-sized browser contexts (Pixel 7 by default).

    `make.problems` collects CSP violations, script errors and failed sub-resources (CSS, JS, images).
    """
    p, browser = playwright_browser
    contexts, problems = [], []

    def make(**overrides):
        context = phone_context(p, browser, **overrides)
        context.on("console", lambda msg: problems.append(msg.text)
                   if "Content Security Policy" in msg.text else None)
        context.on("weberror", lambda error: problems.append(str(error.error)))
        # Sub-resources only: the page's own status is the test's business (the service worker's
        # copy of a navigation shows up as its own request, so it is skipped too).
        context.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                   if r.status >= 400 and r.request.resource_type != "document" and r.request.service_worker is None
                   else None)
        contexts.append(context)
        return context

    make.problems = problems
    yield make
    for context in contexts:
        context.close()


def shot(page, name: str) -> Path:
    """Save a screenshot under tests/artifacts/ for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
