"""Every page, opened in Chromium by a signed-in organizer and by a visitor, logs no CSP violation."""
from tests.conftest import PASSWORD
from tests.test_authorization import routes, url_arguments, world  # noqa: F401  (world is a fixture)

NOT_PAGES = (".pdf", ".zip", ".ics", ".csv", ".svg", ".png", ".webmanifest", ".js", "/healthz", "/api/", "/static/")


def page_urls(app, world):  # noqa: F811
    urls = []
    with app.app_context(), app.test_request_context(base_url=app.config["BASE_URL"]):
        adapter = app.url_map.bind("relbuild.test")
        for method, rule in routes(app):
            if method != "GET":
                continue
            arguments = url_arguments(app, world, rule.endpoint)
            url = adapter.build(rule.endpoint, {a: arguments[a] for a in rule.arguments})
            if not any(part in url for part in NOT_PAGES):
                urls.append(url)
    return urls


def test_no_page_logs_a_csp_violation(app, live_server, phone, world):  # noqa: F811
    urls = page_urls(app, world)
    assert len(urls) > 20
    organizer = phone().new_page()
    organizer.goto(f"{live_server}/login")
    organizer.get_by_label("Email").fill(world["owner"].email)
    organizer.get_by_label("Password").fill(PASSWORD)
    organizer.get_by_role("button", name="Log in").click()
    organizer.wait_for_url("**/people")
    visitor = phone().new_page()
    for url in urls:
        for page in (organizer, visitor):
            response = page.goto(live_server + url)
            assert response.status < 500, url
            page.wait_for_load_state("load")
    assert phone.problems == []
