"""Lighthouse 12, mobile, on the pages a phone opens first: `/`, `/c/<token>` and `/scan` (signed in).

Budget (ENGINEERING.md): 100 in every category (performance, accessibility, best practices, SEO); the static
files pass the text-compression and minification audits (printed for each page).

    .venv/bin/python bench/lighthouse.py     # needs Debian's chromium and npm (Lighthouse comes from the registry)
    .venv/bin/python bench/lighthouse.py fr  # in French: Accept-Language fr, a French account

Starts the app with gunicorn on a scratch SQLite database, signs up one person, then runs Lighthouse's own
mobile preset (Moto G power emulation, simulated slow 4G) against Debian's Chromium. The signed-in page is
audited with that person's session cookie. Lighthouse is fetched by `npx` into npm's cache on first use.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, flask_cli, free_port, machine  # noqa: E402
from page_weight import CHROMIUM, serve  # noqa: E402

LIGHTHOUSE = os.environ.get("LIGHTHOUSE", "lighthouse@12.2.3")
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
PASSWORD = "violet harbour lantern"
LANGUAGE = sys.argv[1] if len(sys.argv) > 1 else "en"
# The static files' audits (issue 16): scripts and styles are served minified and compressed.
STATIC_AUDITS = ("uses-text-compression", "unminified-javascript", "unminified-css")


def sign_up(base: str) -> tuple[str, str]:
    """(session cookie header, badge link) of a new person, through the real forms."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("Accept-Language", LANGUAGE)]  # the account takes the browser's language

    def token(page: str) -> str:
        return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)

    page = opener.open(f"{base}/register").read().decode()
    form = {"csrf_token": token(page), "name": "Bea Badge", "email": "bea@example.com", "password": PASSWORD}
    opener.open(f"{base}/register", urllib.parse.urlencode(form).encode()).read()
    badge = opener.open(f"{base}/badge").read().decode()
    link = re.search(r'class="badge-link"[^>]*>\s*<a href="([^"]+)"', badge) or re.search(r'href="([^"]*/c/[^"]+)"', badge)
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return cookie, urllib.parse.urljoin(base, urllib.parse.urlsplit(link.group(1)).path)


def audit(url: str, cookie: str | None) -> dict[str, float]:
    command = ["npx", "--yes", LIGHTHOUSE, url, "--output=json", "--output-path=stdout", "--quiet",
               f"--only-categories={','.join(CATEGORIES)}",
               "--chrome-flags=--headless=new --no-sandbox --disable-gpu"]
    headers = {"Accept-Language": LANGUAGE}
    if cookie:
        headers["Cookie"] = cookie
    command.append("--extra-headers=" + json.dumps(headers))
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "CHROME_PATH": CHROMIUM})
    if done.returncode != 0:
        raise SystemExit(f"lighthouse failed on {url}:\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    scores = {name: report["categories"][name]["score"] * 100 for name in CATEGORIES}
    failing = [f"{audit['id']} ({audit['score']})" for audit in report["audits"].values()
               if audit.get("score") is not None and audit["score"] < 1 and audit.get("scoreDisplayMode") in
               ("binary", "numeric", "metricSavings")]
    static = {name: report["audits"][name]["score"] for name in STATIC_AUDITS}
    return {**scores, "failing": failing, "static": static}


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="relbuild-lighthouse-"))
    port = free_port()
    base = f"http://localhost:{port}"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{work / 'lighthouse.db'}", "SECRET_KEY": "bench",
           "BASE_URL": base, "FLASK_APP": "app"}
    flask_cli(env, "db", "upgrade")
    server = serve(env, port)
    try:
        cookie, link = sign_up(base)
        rows = [(label, audit(url, signed_in and cookie)) for label, url, signed_in in
                (("/ (visitor)", f"{base}/", False), ("/c/<token> (visitor)", link, False),
                 ("/scan (signed in)", f"{base}/scan", True))]
    finally:
        server.terminate()
        server.wait(10)
    print(f"Lighthouse ({LIGHTHOUSE}, mobile preset, pages in {LANGUAGE}) on {machine()}; load average {os.getloadavg()[0]:.1f} "
          "(performance scores drop when the machine is busy)")
    print(f"{'page':24} " + " ".join(f"{name:>15}" for name in CATEGORIES))
    ok = True
    for label, scores in rows:
        print(f"{label:24} " + " ".join(f"{scores[name]:15.0f}" for name in CATEGORIES))
        if scores["failing"]:
            print(f"{'':24} below 1: {', '.join(scores['failing'])}")
        print(f"{'':24} " + ", ".join(f"{name} {'pass' if score == 1 else score}"
                                      for name, score in scores["static"].items()))
        ok = ok and all(scores[name] == 100 for name in CATEGORIES) and all(
            score == 1 for score in scores["static"].values())
    print("PASS" if ok else "BELOW 100")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
