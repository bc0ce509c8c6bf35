"""Bytes a phone transfers to load Relbuild pages: first load (empty cache) and repeat load (service worker).

Budget (ENGINEERING.md): a first load of any page <= 60 KB transferred (gzip), no render-blocking JS;
repeat loads served by the service worker.

    .venv/bin/python bench/page_weight.py          # needs Debian's chromium and `make vendor` (jsQR)
    .venv/bin/python bench/page_weight.py fr       # the same in French (browser locale fr-FR, a French account)

Starts the app with gunicorn on a scratch SQLite database, then drives Chromium (Pixel 7) and counts
`encodedDataLength` of every network response through the DevTools protocol.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, flask_cli, free_port, machine  # noqa: E402

BUDGET = 60 * 1024
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


def serve(env: dict, port: int) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "app:app"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the app did not start")


def measure(page, url: str) -> tuple[int, int, list[str]]:
    """(bytes over the network, requests, what was fetched) for one navigation."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    sizes, names, from_worker = {}, {}, set()
    cdp.on("Network.responseReceived", lambda e: (names.__setitem__(e["requestId"], e["response"]["url"]),
                                                 e["response"].get("fromServiceWorker") and from_worker.add(
                                                     e["requestId"])))
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    page.goto(url, wait_until="networkidle")
    time.sleep(0.3)
    cdp.detach()
    # Whatever the service worker answered (from its cache, or by fetching the page itself) counts at
    # the size the network would have carried; cache hits for static files count as nothing.
    network = {rid: size for rid, size in sizes.items() if rid not in from_worker}
    document = [rid for rid in from_worker if names.get(rid) == url]
    fetched = [re.sub(r"^https?://[^/]+", "", names.get(rid, "?")) for rid in network]
    return sum(network.values()), len(network), fetched + (["(page HTML, fetched by the service worker)"]
                                                            if document else [])


def html_size(page, url: str) -> int:
    """Compressed size of a page's HTML: per-person pages always come from the network."""
    response = page.context.request.get(url, headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
    return len(response.body()) if "content-encoding" not in response.headers else int(
        response.headers.get("content-length", len(response.body())))


def main() -> None:
    from playwright.sync_api import sync_playwright

    locale = {"fr": "fr-FR"}.get(sys.argv[1] if len(sys.argv) > 1 else "en", "en-US")
    work = Path(tempfile.mkdtemp(prefix="relbuild-weight-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{work / 'weight.db'}", "SECRET_KEY": "bench",
           "BASE_URL": base, "FLASK_APP": "app"}
    flask_cli(env, "db", "upgrade")
    server = serve(env, port)
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            owner = browser.new_context(**{**p.devices["Pixel 7"], "locale": locale})
            page = owner.new_page()
            page.goto(f"{base}/register")
            page.fill("#name", "Bea Badge"), page.fill("#email", "bea@example.com")
            page.fill("#password", "violet harbour lantern")
            page.click("button[type=submit]")
            page.goto(f"{base}/badge")
            link = page.locator(".badge-link a").inner_text().replace("http://127.0.0.1:5000", base)

            for label, url, signed_in in (("/ (visitor)", f"{base}/", False),
                                          ("/c/<token> (visitor)", link, False),
                                          ("/scan (signed in)", f"{base}/scan", True)):
                context = browser.new_context(**{**p.devices["Pixel 7"], "locale": locale})
                if signed_in:  # sign in through the API, so the page cache stays empty
                    login = context.request.get(f"{base}/login").text()
                    token = re.search(r'name="csrf-token" content="([^"]+)"', login).group(1)
                    context.request.post(f"{base}/login", form={"csrf_token": token, "email": "bea@example.com",
                                                                  "password": "violet harbour lantern"})
                viewer = context.new_page()
                first, first_requests, first_files = measure(viewer, url)
                viewer.evaluate("navigator.serviceWorker.ready")
                time.sleep(0.5)
                html = html_size(viewer, url)
                repeat, repeat_requests, repeat_files = measure(viewer, url)
                rows.append((label, first, first_requests, repeat + html, repeat_requests + 1, repeat_files))
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(10)

    print(f"Page weight on {machine()}, Chromium as a Pixel 7 ({locale}), gzip/br as the browser negotiates")
    print(f"{'page':24} {'first load':>12} {'req':>4} {'repeat load':>12} {'req':>4}  budget 60 KB")
    worst = 0
    for label, first, first_requests, repeat, repeat_requests, repeat_files in rows:
        worst = max(worst, first)
        print(f"{label:24} {first / 1024:9.1f} KB {first_requests:4} {repeat / 1024:9.1f} KB {repeat_requests:4}"
              f"  repeat fetched: {', '.join(repeat_files)}")
    print("PASS" if worst <= BUDGET else "OVER BUDGET", f"(largest first load {worst / 1024:.1f} KB)")
    sys.exit(0 if worst <= BUDGET else 1)


if __name__ == "__main__":
    main()
