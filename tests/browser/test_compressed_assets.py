"""Chromium gets the minified scripts and styles brotli-compressed, and they run (scanner and outbox: test_pwa.py)."""
from tests.test_static_assets import built  # noqa: F401  (fixture)


def test_a_first_visit_runs_the_minified_brotli_scripts(live_server, phone, built):  # noqa: F811
    page = phone().new_page()
    static = {}
    page.on("response", lambda r: static.__setitem__(r.url.split("?")[0].rsplit("/", 1)[1], r)
            if "/static/" in r.url else None)
    page.goto(f"{live_server}/")
    page.evaluate("navigator.serviceWorker.ready")
    for name in ("app.css", "app.js", "outbox.js"):
        headers = static[name].all_headers()
        assert headers["content-encoding"] == "br", name
        assert headers["cache-control"] == "public, max-age=31536000, immutable", name
        assert "\n  " not in static[name].text(), name  # what the browser decoded is the minified file
    assert page.evaluate("typeof window.RelbuildOutbox.flush") == "function"  # outbox.js ran
    assert "system-ui" in page.evaluate("getComputedStyle(document.body).fontFamily")  # app.css applies
    assert phone.problems == []
