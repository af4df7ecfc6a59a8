"""/docs needs no CDN: every file it loads comes from this server."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, Request, expect

from conftest import Running, browser_page

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

# what the page names to load: attributes, and the spec URL inside Swagger UI's script
_LINKED = re.compile(r"""(?:src|href)="([^"]*)"|\burl: '([^']*)'""")
_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".json": "application/json",
}


def _linked(html: str) -> list[str]:
    return [a or b for a, b in _LINKED.findall(html)]


def test_the_docs_page_names_only_files_of_this_server_and_each_is_served(
    running: Running,
) -> None:
    with running.client() as http:
        page = http.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert re.search(r"(https?:)?//", page.text) is None, "the page names another host"
        linked = _linked(page.text)
        suffixes = {"." + url.rsplit(".", 1)[-1] for url in linked}
        assert suffixes == {".js", ".css", ".png", ".json"}
        for url in linked:
            assert url.startswith("/"), url
            served = http.get(url)
            assert served.status_code == 200, url
            expected = _TYPES["." + url.rsplit(".", 1)[-1]]
            assert served.headers["content-type"].startswith(expected), (url, served.headers)
            assert len(served.content) > 100, url
        # FastAPI's ReDoc page would load from CDNs (and ReDoc its logo from one): not served
        assert http.get("/redoc").status_code == 404


@pytest.fixture
def page() -> Iterator[Page]:
    with browser_page() as opened:
        yield opened


def _operations(running: Running) -> int:
    with running.client() as http:
        spec = http.get("/openapi.json").json()
    return sum(len(methods) for methods in spec["paths"].values())


def _requests_elsewhere(page: Page, running: Running, path: str) -> list[str]:
    elsewhere: list[str] = []

    def note(request: Request) -> None:
        # data: and blob: URLs are made inside the page, not fetched from a host
        if not request.url.startswith((running.url + "/", "data:", "blob:")):
            elsewhere.append(request.url)

    page.on("request", note)
    page.goto(running.url + path)
    return elsewhere


def test_swagger_ui_renders_every_operation_from_this_server_alone(
    page: Page, running: Running
) -> None:
    operations = _operations(running)
    assert operations > 10
    elsewhere = _requests_elsewhere(page, running, "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("tiermem")
    expect(page.locator(".swagger-ui .opblock")).to_have_count(operations)
    expect(page.locator(".swagger-ui .opblock-summary-path").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert elsewhere == []
