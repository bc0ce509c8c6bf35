"""Static scripts and styles: minified and pre-compressed by `make`, negotiated per request, cached by version."""
import gzip
import os

import brotli
import pytest

from relbuild import assets
from relbuild.pwa import STATIC, asset_version

CHROMIUM_ACCEPT = "gzip, deflate, br, zstd"
SOURCES = sorted(str(path.relative_to(STATIC)) for folder in ("js", "css") for path in (STATIC / folder).iterdir())


@pytest.fixture
def built():
    """The build `make` leaves in static/dist/ (make run and make test rebuild it when a source changes)."""
    if not assets.built_copy("js/app.js", asset_version("js/app.js")):
        message = "no minified build: run `make vendor` (needs npm)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def url(name: str) -> str:
    return f"/static/{name}?v={asset_version(name)}"


def minified(name: str) -> bytes:
    return assets.built_copy(name, asset_version(name)).read_bytes()


def test_the_build_is_fresh_for_every_script_and_style(built):
    for name in SOURCES + ["vendor/jsQR.js"]:
        copy = assets.built_copy(name, asset_version(name))
        assert copy, f"{name} changed since the last build: `make vendor` rebuilds it"
        assert copy.stat().st_size < (STATIC / name).stat().st_size


@pytest.mark.parametrize("name", ["js/app.js", "js/outbox.js", "css/app.css", "vendor/jsQR.js"])
def test_brotli_and_gzip_decode_to_the_minified_file(client, built, name):
    br = client.get(url(name), headers={"Accept-Encoding": CHROMIUM_ACCEPT})
    assert br.headers["Content-Encoding"] == "br"
    assert brotli.decompress(br.data) == minified(name)
    assert int(br.headers["Content-Length"]) == len(br.data) < len(minified(name)) / 2
    gz = client.get(url(name), headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(gz.data) == minified(name)
    assert len(br.data) <= len(gz.data)
    assert br.mimetype == gz.mimetype == ("text/css" if name.endswith(".css") else "text/javascript")
    assert "Accept-Encoding" in br.headers["Vary"]


def test_the_minified_script_is_smaller_and_keeps_what_the_pages_call(client, built):
    source = (STATIC / "js/outbox.js").read_text()
    plain = client.get(url("js/outbox.js"), headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert len(plain.data) < 0.7 * len(source.encode())
    assert "/*" not in plain.text and "\n  " not in plain.text  # no comments, no indentation
    assert "RelbuildOutbox" in plain.text  # the global the service worker and app.js use


@pytest.mark.parametrize("accept, encoding", [
    ("gzip, deflate, br, zstd", "br"),
    ("gzip", "gzip"),
    ("br;q=0.5, gzip", "gzip"),
    ("gzip;q=0.2, br;q=0.8", "br"),
    ("*", "br"),
    ("identity", None),
    ("", None),
    ("br;q=0, gzip", "gzip"),  # q=0: not acceptable
])
def test_accept_encoding_picks_brotli_gzip_or_none(client, built, accept, encoding):
    response = client.get(url("js/app.js"), headers={"Accept-Encoding": accept})
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") == encoding
    body = {"br": brotli.decompress, "gzip": gzip.decompress, None: bytes}[encoding](response.data)
    assert body == minified("js/app.js")


def test_versioned_urls_are_immutable_for_a_year_others_revalidate(client, built):
    versioned = client.get(url("js/scanner.js"), headers={"Accept-Encoding": "br"})
    assert versioned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    for other in ("/static/js/scanner.js", "/static/js/scanner.js?v=0123456789"):  # none, or a stale page's
        response = client.get(other, headers={"Accept-Encoding": "br"})
        assert response.status_code == 200 and response.data == versioned.data
        assert "no-cache" in response.headers["Cache-Control"] and "immutable" not in response.headers["Cache-Control"]


def test_conditional_and_head_requests_name_the_encoding_sent(client, built):
    br = client.get(url("css/app.css"), headers={"Accept-Encoding": "br"})
    gz = client.get(url("css/app.css"), headers={"Accept-Encoding": "gzip"})
    assert br.headers["ETag"] != gz.headers["ETag"]  # two representations, two validators
    again = client.get(url("css/app.css"), headers={"Accept-Encoding": "br", "If-None-Match": br.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    other = client.get(url("css/app.css"), headers={"Accept-Encoding": "gzip", "If-None-Match": br.headers["ETag"]})
    assert other.status_code == 200 and other.headers["Content-Encoding"] == "gzip"
    head = client.head(url("css/app.css"), headers={"Accept-Encoding": "br"})
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Encoding"] == "br" and head.headers["Content-Length"] == str(len(br.data))


def test_without_a_build_the_sources_are_served_as_written(client, monkeypatch, tmp_path):
    monkeypatch.setattr(assets, "DIST", tmp_path)  # what a machine without npm has: no static/dist/
    source = (STATIC / "js/app.js").read_bytes()
    plain = client.get(url("js/app.js"), headers={"Accept-Encoding": "identity"})
    assert plain.data == source and plain.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    br = client.get(url("js/app.js"), headers={"Accept-Encoding": "br"})  # compressed on the fly instead
    assert br.headers["Content-Encoding"] == "br" and brotli.decompress(br.data) == source


def test_a_copy_built_from_another_version_of_the_source_is_never_served(client, monkeypatch, tmp_path):
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "app.0123456789.js").write_text("stale();")  # built before the last edit of app.js
    (tmp_path / "js" / "app.0123456789.js.br").write_bytes(brotli.compress(b"stale();"))
    monkeypatch.setattr(assets, "DIST", tmp_path)
    response = client.get(url("js/app.js"), headers={"Accept-Encoding": "br"})
    assert brotli.decompress(response.data) == (STATIC / "js/app.js").read_bytes()


def test_unknown_and_outside_paths_are_not_found(client):
    for path in ("/static/js/nothing.js", "/static/js", "/static/../config.py", "/static/%2e%2e/config.py"):
        assert client.get(path).status_code == 404
