"""The web chat in a real browser (headless Chromium through Playwright): a token, a new
conversation, a question whose tool call waits for approval, Approve, and the answer."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from tests.integration.conftest import Assistant
from tests.integration.gateway_fixtures import TOKENS, Gateway

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(
            "chromium is not installed: `apt-get install -y --no-install-recommends chromium` "
            "(.ci/run installs it before `make test`)"
        )
    return path


async def test_a_person_chats_approves_a_tool_call_and_reads_the_answer(
    gateway: Gateway, assistant: Assistant, tmp_path: Path
) -> None:
    key = f"web-{uuid.uuid4().hex[:8]}"
    target = {"assistant_id": assistant} if isinstance(assistant, str) else {"assistant": assistant}
    config = {**target, "defaults": {"approval_required_for": ["get_weather"]}}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{gateway.url}/")
            await page.fill("#token", TOKENS["acme"])
            await page.fill("#key", key)
            await page.click("#open")
            await expect(page.locator("#status")).to_contain_text(f"new conversation {key}")
            await page.click("#config-box summary")
            await page.fill("#config", json.dumps(config))
            await page.fill("#message", "What is the weather in Paris?")
            await page.click("#send")
            await expect(page.locator(".bubble.user")).to_have_text("What is the weather in Paris?")
            approve = page.locator(".approval .approve")
            await expect(approve).to_be_visible(timeout=30_000)
            await expect(page.locator(".approval")).to_contain_text("get_weather")
            await approve.click()
            await expect(page.locator(".approval")).to_contain_text("approved")
            answer = page.locator(".bubble.run .answer")
            await expect(answer).to_contain_text("Paris", timeout=30_000)
            await expect(page.locator("#status")).to_have_text("answered: completed")
            await expect(page.locator(".tool").filter(has_text="← get_weather")).to_have_count(1)
            link = page.locator(".run-link")
            assert await link.get_attribute("href") == (
                f"http://localhost:8233/namespaces/default/workflows/thread-acme.{key}%2Frun-1"
            )
            assert (
                await page.evaluate("sessionStorage.getItem('durable-assistants-token')")
                == (TOKENS["acme"])
            )
            screenshot = tmp_path / "web-chat.png"
            await page.screenshot(path=str(screenshot), full_page=True)
            assert screenshot.stat().st_size > 0
        finally:
            await browser.close()
