"""The page in a real headless browser: Debian's chromium driven by Playwright.

The bot trades a stepped exchange and has a ``DASHBOARD_TOKEN``: the page must ask for the token
once (and keep it for the tab, a reload included), show what the store holds, and its Halt button
must stop every new order from reaching the exchange.

Chromium comes from Debian (``make test`` installs it when missing), never from
``playwright install``. Without it the test is skipped, except in CI, where it must run.
Set ``FLEECE_DASHBOARD_SCREENSHOT=docs/dashboard.png`` to keep a copy of the screenshot.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_helpers import (
    TOKEN,
    BotThread,
    ServedExchange,
    paper_bot,
    step,
    step_until,
)

from fleece.accounting import realised_pnl
from fleece.notify.messages import money, price_text, when
from fleece.state_store import StateStore

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (make test installs it with apt-get; CI runs this)",
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
MAX_STEPS = 120
WAIT_MS = 60_000  # a guard against hangs, never a measured expectation
# The page's former copies of fleece.notify.messages' wording rules: none may come back.
FORMATTERS_ONCE_IN_JS = ["fmtDuration", "fmtStamp", "fmtMoney", "fmtSigned", "fmtPct", "fmtPrice"]


@pytest.fixture
def trading(tmp_path: Path) -> Iterator[tuple[ServedExchange, BotThread, str]]:
    """A paper bot that has traded and holds a position, on a stepped exchange."""
    with paper_bot(tmp_path, close_positions=False) as (exchange, bot, url):
        store, trader = bot.bot.store, bot.bot.trader
        assert store is not None and trader is not None
        step_until(
            exchange,
            bot,
            lambda: len(store.fills()) >= 2 and bool(trader.portfolio.qty),
            "fills and holdings",
            MAX_STEPS,
        )
        yield exchange, bot, url


def test_the_page_shows_the_store_and_halt_stops_new_orders(
    trading: tuple[ServedExchange, BotThread, str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    exchange, bot, url = trading
    store = bot.bot.store
    assert isinstance(store, StateStore)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        page = browser.new_page()
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: problems.append(message.text) if message.type == "error" else None,
        )
        page.goto(url)

        # The page asks for the token before it shows anything; a wrong one is refused.
        expect(page.get_by_test_id("login")).to_be_visible(timeout=WAIT_MS)
        page.get_by_test_id("login-token").fill("not-the-dashboard-token")
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("login-message")).to_contain_text("wrong token", timeout=WAIT_MS)
        page.get_by_test_id("login-token").fill(TOKEN)
        page.get_by_test_id("login-submit").click()
        expect(page.locator("body[data-loaded=true]")).to_have_count(1, timeout=WAIT_MS)
        expect(page.get_by_test_id("login")).to_be_hidden(timeout=WAIT_MS)
        # Kept for the tab: a reload loads at once, without asking again.
        page.reload()
        expect(page.locator("body[data-loaded=true]")).to_have_count(1, timeout=WAIT_MS)
        expect(page.get_by_test_id("login")).to_be_hidden(timeout=WAIT_MS)

        # What the page shows equals what the store holds.
        equity = store.equity_curve()[-1].equity
        expect(page.get_by_test_id("equity")).to_have_text(money(equity), timeout=WAIT_MS)
        held = realised_pnl(store.fills()).open_qty
        rows = page.get_by_test_id("positions").locator("tr")
        expect(rows).to_have_count(len(held), timeout=WAIT_MS)
        shown_positions = {
            row.get_attribute("data-key"): int(row.locator("td").nth(1).get_attribute("data-value"))
            for row in rows.all()
        }
        fill_rows = page.get_by_test_id("fills").locator("tr")
        latest = store.fills()[-25:][::-1]
        expect(fill_rows).to_have_count(len(latest), timeout=WAIT_MS)
        shown_fills = [
            tuple(cell.get_attribute("data-value") for cell in row.locator("td").all()[1:5])
            for row in fill_rows.all()
        ]
        # Times and prices read as fleece status and Telegram word them: the page once said
        # "Nov 26 10:31:00" and "101.25" where they said "2024-11-26 10:31:00 ET" and "101.2500".
        fill_words = [
            (row.locator("td").nth(0).text_content(), row.locator("td").nth(4).text_content())
            for row in fill_rows.all()
        ]
        expect(page.get_by_test_id("state")).to_have_text("ACTIVE", timeout=WAIT_MS)
        expect(page.locator("#price-chart .main-svg").first).to_be_visible(timeout=WAIT_MS)
        # The page words nothing itself: it has no copy of a Python wording rule left.
        copies = page.evaluate(
            "names => names.filter(n => typeof window[n] === 'function')", FORMATTERS_ONCE_IN_JS
        )

        # Halt (with the tab's token): HALTED, and no new order reaches the exchange.
        page.get_by_test_id("halt").click()
        # Worded as fleece status and Telegram word it: the page once said "HALTED · kill switch"
        # where they said "HALTED (kill_switch)".
        expect(page.get_by_test_id("state")).to_contain_text(
            "HALTED (kill_switch) · kill switch on (halted from the dashboard)", timeout=WAIT_MS
        )
        orders_before = exchange.state()["requests"].get("POST /v2/orders", 0)
        for _ in range(MAX_STEPS):
            step(exchange, bot)
            if store.refusal_counts().get("kill_switch", 0) >= 2:
                break
        else:
            pytest.fail("no signal came while halted")
        orders_after = exchange.state()["requests"].get("POST /v2/orders", 0)
        # Named as fleece status and Telegram name it: the page once said "kill switch".
        expect(page.get_by_test_id("refusals")).to_contain_text("kill_switch", timeout=WAIT_MS)
        points = str(len(store.equity_curve()))
        expect(page.locator(f"#equity-chart[data-points='{points}']")).to_have_count(
            1, timeout=WAIT_MS
        )
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

        # Resume lifts it; on a phone (a new tab: it asks again) the page fits the screen's width.
        page.get_by_test_id("resume").click()
        expect(page.get_by_test_id("state")).to_have_text("ACTIVE", timeout=WAIT_MS)
        stored = page.evaluate("sessionStorage.getItem('fleece-dashboard-token')")
        cookies = browser.cookies()
        phone = browser.new_page()
        phone.set_viewport_size({"width": 390, "height": 844})
        phone.goto(url)
        expect(phone.get_by_test_id("login")).to_be_visible(timeout=WAIT_MS)
        phone.get_by_test_id("login-token").fill(TOKEN)
        phone.get_by_test_id("login-submit").click()
        expect(phone.locator("#price-chart .main-svg").first).to_be_visible(timeout=WAIT_MS)
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        phone.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=True)
        browser.close()

    assert shown_positions == held
    assert copies == []
    assert fill_words == [(when(f.timestamp, seconds=True), price_text(f.price)) for f in latest]
    assert shown_fills == [(f.symbol, f.side.value, str(f.qty), str(f.price)) for f in latest]
    assert store.kill_switch() == (False, "resumed from the dashboard")
    assert orders_after == orders_before
    assert overflow <= 0
    assert stored == TOKEN and cookies == []  # sessionStorage: this tab only, never a cookie
    # The only console errors are the refusals that made the page ask for the token.
    assert [p for p in problems if "responded with a status of 401" not in p] == []
    keep = os.environ.get("FLEECE_DASHBOARD_SCREENSHOT")
    if keep:
        shutil.copy(tmp_path / "dashboard.png", keep)
