"""Browser-test helpers: the app under uvicorn on loopback, headless Debian chromium,
signing in through the login form, and where screenshots go."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from storage.db import dispose_engines
from tests.conftest import ROOT, serve_app
from web.app import create_app
from workers.settings import Settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = "/usr/bin/chromium"


def artifacts_dir() -> Path:
    """``$COLDSTART_TEST_ARTIFACTS``, default ``var/test-artifacts`` (git-ignored, as ``var/``)."""
    path = Path(os.environ.get("COLDSTART_TEST_ARTIFACTS") or ROOT / "var" / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def live_server(settings: Settings) -> Iterator[str]:
    """``create_app(settings)`` served on a free loopback port; yields its base URL."""
    try:
        with serve_app(create_app(settings)) as base:
            yield base
    finally:
        dispose_engines()


@contextmanager
def chromium_page(dialogs: list[str] | None = None) -> Iterator[Page]:
    """A page of a fresh headless chromium. Every dialog is dismissed and its message kept
    in ``dialogs``: a dialog is a script the page should not have run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            if dialogs is not None:
                page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            yield page
        finally:
            browser.close()


def sign_in(page: Page, base: str, email: str, password: str) -> None:
    """Through the login form, as a person does; lands on the review queue."""
    page.goto(f"{base}/admin/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/$"))
