"""The page at / in a real headless browser: the system's Chromium, driven by Playwright.

Set ``TIERMEM_SCREENSHOT=docs/page.png`` to keep the screenshot (the README's).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from playwright.sync_api import Page, expect

from conftest import ALICE_KEY, BOB_KEY, Running, browser_page, serve
from tiermem import MemoryConfig
from tiermem.cli import load_sample

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    config = MemoryConfig(
        tokenizer="cl100k_base",
        short_term={"max_tokens": 100},
        medium_term={"trigger_tokens": 50, "summary_tokens": 40},
    )
    for served in serve(tmp_path_factory.mktemp("page") / "store", config):
        sample = load_sample()
        for session in sample["sessions"]:
            when = datetime.fromisoformat(session["start"])
            served.memory.add_messages(
                [{"role": t["role"], "content": t["content"],
                  "timestamp": when + timedelta(minutes=i)}
                 for i, t in enumerate(session["turns"])],
                session_id=session["session_id"], user_id="alice",
            )  # fmt: skip
        served.memory.remember("Maya is vegetarian and allergic to peanuts.", user_id="alice",
                               importance=0.9, tags=["health"])  # fmt: skip
        served.memory.add_message("user", "bob's private note", session_id="b", user_id="bob")
        yield served


@pytest.fixture(scope="module")
def page(running: Running) -> Iterator[Page]:
    with browser_page() as opened:
        yield opened


def _open_scope(page: Page, running: Running, key: str) -> None:
    page.goto(running.url + "/")
    page.fill("#api-key", key)
    page.click("#key-form button")
    expect(page.locator("#whoami")).to_contain_text("key")
    page.click("#load-scope")


def test_pick_a_scope_browse_search_and_see_a_context_as_a_picture(
    page: Page, running: Running, tmp_path: Path
) -> None:
    sample = load_sample()
    _open_scope(page, running, ALICE_KEY)
    expect(page.locator("#user-id")).to_have_value("alice")
    sessions = page.locator("#sessions li")
    expect(sessions).to_have_count(len(sample["sessions"]))
    last = sample["sessions"][-1]
    expect(page.locator("#sessions li.active")).to_contain_text(last["session_id"])
    expect(page.locator("#records li").first).to_be_visible()
    assert (
        page.locator("#records li").count()
        == running.memory.stats(user_id="alice", session_id=last["session_id"])["turns"]
    )
    page.click(".tab[data-kind=memory]")
    expect(page.locator("#records li")).to_have_count(1)
    expect(page.locator("#records")).to_contain_text("vegetarian")
    page.click(".tab[data-kind=summary]")
    summaries = running.memory.stats(user_id="alice", session_id=last["session_id"])["summaries"]
    assert summaries > 0
    expect(page.locator("#records-total")).to_have_text(f"{summaries} summaries")
    expect(page.locator("#records li")).to_have_count(summaries)
    page.click(".tab[data-kind=turn]")

    page.fill("#search-query", "peanuts")
    page.click("#search-form button")
    expect(page.locator("#hits li").first).to_contain_text("peanuts")

    page.fill("#context-query", "What allowed lateness did we discuss for the Antwerp events?")
    page.fill("#context-budget", "300")
    page.click("#context-form button")
    expect(page.locator("#context-result")).to_be_visible()
    built = running.memory.build_context(
        "What allowed lateness did we discuss for the Antwerp events?",
        session_id=last["session_id"], user_id="alice", max_tokens=300,
    )  # fmt: skip
    expect(page.locator("#candidates tbody tr")).to_have_count(len(built.decisions))
    expect(page.locator("#budget-label")).to_contain_text(f"of {built.max_tokens} tokens used")
    kept = page.locator("#candidates tbody tr.kept")
    assert kept.count() == len(built.kept) > 0
    assert page.locator("#candidates tbody tr.left").count() == len(built.left_out)
    bar = page.locator("#budget-bar div")
    tiers = {t for t, tokens in built.tokens_per_tier().items() if tokens}
    assert {bar.nth(i).get_attribute("data-tier") for i in range(bar.count())} == tiers
    widths = [bar.nth(i).bounding_box()["width"] for i in range(bar.count())]  # type: ignore[index]
    total = page.locator("#budget-bar").bounding_box()["width"]  # type: ignore[index]
    share = sum(built.tokens_per_tier().values()) / built.max_tokens
    assert sum(widths) == pytest.approx(total * share, rel=0.05)
    assert page.locator("#candidates .parts b").count() >= 4  # score parts drawn as bars

    shot = Path(os.environ.get("TIERMEM_SCREENSHOT") or tmp_path / "page.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    with Image.open(shot) as image:
        stats = ImageStat.Stat(image.convert("L"))
        assert image.width >= 1000
        assert stats.stddev[0] > 20  # text, bars and colours: far from a blank page
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is not None
        assert len(colours) > 50


def test_the_page_shows_only_what_the_key_may_see(page: Page, running: Running) -> None:
    _open_scope(page, running, BOB_KEY)
    expect(page.locator("#user-id")).to_have_value("bob")
    expect(page.locator("#sessions li")).to_have_count(1)
    expect(page.locator("#records")).to_contain_text("bob's private note")
    page.fill("#user-id", "alice")
    page.click("#load-scope")
    expect(page.locator("#scope-error")).to_contain_text("403")
    assert "Antwerp" not in page.content()
