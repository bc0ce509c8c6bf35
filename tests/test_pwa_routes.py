"""Manifest, service worker, offline shell and static caching, over HTTP."""
import re

from relbuild.pwa import asset_version


def test_service_worker_precaches_the_versioned_shell(client):
    response = client.get("/sw.js")
    assert response.mimetype == "application/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    body = response.data.decode()
    version = re.search(r'const VERSION = "([0-9a-f]{12})"', body).group(1)
    assert f"/static/css/app.css?v={asset_version('css/app.css')}" in body
    assert '"/offline?lang=en"' in body and "caches.delete" in body  # the shell in the reader's language
    # notifications show the icon at its versioned URL, which is cached for a year (not asked for again each time)
    icon = re.search(r'self.RELBUILD_ICON = "([^"]+)"', body).group(1)
    assert icon == f"/static/icons/icon-192.png?v={asset_version('icons/icon-192.png')}"
    assert "immutable" in client.get(icon).headers["Cache-Control"]
    assert client.get("/sw.js").data.decode().count(version) == 1  # stable between requests


def test_offline_shell_is_the_same_for_everyone(client, make_user, login):
    user = make_user(name="Private Pat")
    login(client, user)
    page = client.get("/offline").data.decode()
    assert "csrf-token" not in page and "Private Pat" not in page and "Log out" not in page
    assert "You are offline" in page and "data-scanner" in page


def test_static_files_are_cached_for_a_year_and_compressed(client):
    url = f"/static/css/app.css?v={asset_version('css/app.css')}"
    response = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br, zstd"})  # what Chromium sends
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert response.headers["Content-Encoding"] in {"zstd", "br", "gzip"}
    page = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip"


def test_pages_link_the_manifest_and_versioned_assets(client):
    page = client.get("/").data.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert re.search(r'<script src="/static/js/app\.js\?v=[0-9a-f]{10}" defer>', page)
    assert 'name="apple-mobile-web-app-capable"' in page
