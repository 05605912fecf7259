"""The web interface in a real headless Chromium (Debian's, driven by Playwright).

Sign in, submit an echo job through the generated form, watch it reach COMPLETED
without a reload, open its result, submit a sweep and watch its batch reach 3 SUCCEEDED,
abort a running sleep, share a job and see it from the other user's session, see a form
error, and see a UWS document rendered through the shipped XSLT. The SQLite run also
refreshes docs/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui.conftest import UiServer

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


@pytest.fixture
def shots(database_url: str) -> Any:
    """``shots(page, name)`` saves a screenshot into docs/screenshots (SQLite run only)."""
    def take(page: Any, name: str, *, full_page: bool = True) -> None:
        if database_url.startswith("sqlite"):
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)
    return take


def _sign_in(browser: Any, ui: UiServer, user: str, **options: Any) -> Any:
    context = browser.new_context(viewport=options.pop("viewport", DESKTOP), **options)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{ui.url}/ui/jobs")
    assert "/ui/signin" in page.url  # redirected there
    page.get_by_label("Token").fill(ui.tokens[user])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{ui.url}/ui/jobs")
    return page


@pytest.fixture
def alice(browser: Any, ui_server: UiServer) -> Iterator[Any]:
    page = _sign_in(browser, ui_server, "alice")
    yield page
    page.context.close()


def _submit(page: Any, ui: UiServer, jobtype: str, values: dict[str, str]) -> None:
    page.goto(f"{ui.url}/ui/submit")
    page.get_by_role("link", name=jobtype, exact=True).click()
    for label, value in values.items():
        page.locator(f"#in-{label}").fill(value)
    page.get_by_role("button", name="Submit").click()


def _phase_becomes(page: Any, phase: str, timeout: float = 60_000) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#phase")).to_have_text(phase, timeout=timeout)


def test_an_echo_job_submitted_through_the_form_completes_without_a_reload(alice, ui_server,
                                                                          shots):
    page = alice
    page.goto(f"{ui_server.url}/ui/signin")
    shots(page, "signin")
    page.goto(f"{ui_server.url}/ui/submit/echo")
    labelled = page.get_by_label("message")  # the generated field, then its sweep box
    assert labelled.first.is_visible() and labelled.first.get_attribute("id") == "in-message"
    page.locator("#in-message").fill("hello from Chromium")
    page.locator("#in-RUNID").fill("browser-echo")
    shots(page, "submit")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url("**/ui/jobs/*")
    page.evaluate("window.__sameDocument = true")
    _phase_becomes(page, "COMPLETED")
    assert page.evaluate("window.__sameDocument") is True  # followed by polling, no reload
    preview = page.get_by_label("Preview of result")
    preview.wait_for()
    assert "hello from Chromium" in preview.inner_text()
    assert "COMPLETED" in page.locator("#job-timeline").inner_text()
    shots(page, "job")
    page.get_by_role("link", name="result", exact=True).click()
    page.wait_for_url("**/results/result")
    assert "hello from Chromium" in page.content()
    page.goto(f"{ui_server.url}/ui/jobs")
    assert "browser-echo" in page.locator("#job-rows").inner_text()
    shots(page, "jobs")


def test_a_sweep_of_three_echo_jobs_is_watched_to_three_succeeded_without_a_reload(
        alice, ui_server, shots):
    from playwright.sync_api import expect

    page = alice
    page.goto(f"{ui_server.url}/ui/submit/echo")
    page.locator("details.sweep > summary").click()
    page.get_by_label("Submit a sweep").check()
    page.locator("#sw-message").fill("first light\nsecond light\nthird light")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url("**/ui/batches/*")
    page.evaluate("window.__sameDocument = true")
    expect(page.locator("#count-succeeded")).to_have_text("3", timeout=90_000)
    assert page.evaluate("window.__sameDocument") is True  # followed by polling, no reload
    rows = page.locator("#batch-rows").inner_text()
    assert rows.count("SUCCEEDED") == 3 and "message=third light" in rows
    assert page.locator("#batch").get_attribute("data-active") == "false"
    expect(page.get_by_role("button", name="Abort batch")).to_have_count(0)  # nothing to abort
    shots(page, "batch")
    page.locator("#batch-rows a").first.click()  # the rows link to the jobs
    page.wait_for_url("**/ui/jobs/*")
    assert page.locator("#batch-link").is_visible()  # and a job links back to its batch


def test_a_running_sleep_is_aborted_from_its_page(alice, ui_server):
    page = alice
    _submit(page, ui_server, "sleep", {"seconds": "120"})
    page.wait_for_url("**/ui/jobs/*")
    _phase_becomes(page, "EXECUTING")
    page.locator("#log-stdout").filter(has_text="sleeping 120").wait_for()
    page.get_by_role("button", name="Abort").click()
    page.wait_for_load_state()
    _phase_becomes(page, "ABORTED")
    assert "aborted by alice" in page.locator("#job-summary").inner_text()


def test_a_shared_job_is_seen_from_the_other_users_session(alice, browser, ui_server):
    page = alice
    _submit(page, ui_server, "echo", {"message": "for bob", "RUNID": "shared-with-bob"})
    page.wait_for_url("**/ui/jobs/*")
    job_url = page.url
    page.get_by_label("User").fill("bob")
    page.get_by_label("Permission").select_option("READ")
    page.get_by_role("button", name="Share").click()
    page.locator("#sharing").filter(has_text="bob: READ").wait_for()
    bob = _sign_in(browser, ui_server, "bob")
    try:
        bob.locator("#job-rows").filter(has_text="shared-with-bob").wait_for()
        bob.goto(job_url)
        assert "shared-with-bob" in bob.locator("#job-summary").inner_text()
        assert bob.get_by_role("button", name="Delete").count() == 0  # READ only
        assert bob.locator("#sharing").count() == 0  # only the owner shares
    finally:
        bob.context.close()


def test_a_bad_value_shows_its_error_next_to_the_field(alice, ui_server, shots):
    page = alice
    _submit(page, ui_server, "sleep", {"seconds": "1", "EXECUTIONDURATION": "-5"})
    error = page.locator("#e-EXECUTIONDURATION")
    error.wait_for()
    assert "EXECUTIONDURATION" in error.inner_text()
    assert page.locator("#in-EXECUTIONDURATION").get_attribute("aria-invalid") == "true"
    assert page.locator("#in-seconds").input_value() == "1"  # what was typed is kept
    shots(page, "submit-error")


def test_the_phone_width_layout_and_the_operator_pages(browser, ui_server, shots):
    phone = _sign_in(browser, ui_server, "ops", viewport=PHONE, is_mobile=True)
    try:
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1  # nothing forces sideways scrolling
        shots(phone, "jobs-phone")
        phone.set_viewport_size(DESKTOP)
        phone.goto(f"{ui_server.url}/ui/job-types")
        shots(phone, "job-types")
        phone.goto(f"{ui_server.url}/ui/admin")
        assert "Lease holder" in phone.content()
        shots(phone, "admin")
        phone.keyboard.press("Tab")  # the skip link comes first, and is visible on focus
        focused = phone.evaluate("document.activeElement.textContent")
        assert focused == "Skip to content"
    finally:
        phone.context.close()


def test_a_uws_job_document_renders_through_the_shipped_xslt(browser, ui_server, shots):
    import requests

    headers = ui_server.bearer("alice")
    url = ui_server.server.create("echo", {"message": "styled", "PHASE": "RUN"},
                                  headers=headers)
    context = browser.new_context(viewport=DESKTOP, extra_http_headers=headers)
    try:
        page = context.new_page()
        for _ in range(100):
            if requests.get(f"{url}/phase", headers=headers, timeout=10).text == "COMPLETED":
                break
            page.wait_for_timeout(200)
        page.goto(url)
        assert page.locator("h1").inner_text().startswith("Job")
        assert page.locator("#phase").inner_text() == "COMPLETED"
        shots(page, "uws-xslt")
        page.get_by_role("link", name="result", exact=True).click()
        page.wait_for_url("**/results/result")
        assert "styled" in page.content()
    finally:
        context.close()
