"""Debian's Chromium driven by Playwright: pages, screenshots and an accessibility check.

``scripts/test`` installs ``chromium`` (Playwright's own browser download cannot reach the internet
here). Every screenshot is written twice to ``artifacts/screenshots/``: at a desktop width and at
390 px, a phone's, so both can be looked at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.node import AXE, ensure_node_modules
from tests.support.stores import on_postgres

CHROMIUM = Path(os.environ.get("OPENTURK_CHROMIUM", "/usr/bin/chromium"))
# The PostgreSQL pass (scripts/test runs it beside the SQLite one) keeps its own, so neither overwrites the other's.
_SHOTS = "screenshots-postgresql" if on_postgres() else "screenshots"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / _SHOTS
# Without the background-networking flags Chromium keeps calling Google's hosts, which this closed
# network refuses; --no-sandbox because the tests may run as root.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# axe-core impacts that fail a page.
SERIOUS = ("serious", "critical")


# Per module, not per session: Playwright's sync API keeps an event loop running in this thread while
# it is open, and a later test calling asyncio.run() would fail under it.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test does)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_context(chromium: Any) -> Iterator[Any]:
    """A fresh browser profile (no cookies) per test."""
    context = chromium.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(browser_context: Any) -> Any:
    return browser_context.new_page()


def shoot(page: Any, name: str) -> None:
    """A full-page screenshot at desktop width and at 390 px."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    size = page.viewport_size or DESKTOP
    page.set_viewport_size(PHONE)
    try:
        page.screenshot(path=str(ARTIFACTS / f"{name}-390.png"), full_page=True)
    finally:
        page.set_viewport_size(size)


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    ensure_node_modules()
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Injected through the DevTools protocol, so the site's CSP (script-src 'self') does not stop it.
        page.evaluate(AXE.read_text())
    results = page.evaluate("async () => await window.axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results["violations"]
        if v.get("impact") in SERIOUS
    ]


# scripts/test's PostgreSQL pass runs beside the SQLite pass, which screenshots and audits every page
# already: how a page looks and reads does not depend on the store, so that pass sets this to 0 and
# spends its CPU on the flows themselves.
PAGE_CHECKS = os.environ.get("OPENTURK_PAGE_CHECKS", "1") != "0"


def check_page(page: Any, name: str) -> None:
    """Screenshot the page (both widths) and fail on serious accessibility violations."""
    if not PAGE_CHECKS:
        return
    shoot(page, name)
    problems = serious_violations(page)
    assert not problems, f"{name}: accessibility violations: {problems}"
