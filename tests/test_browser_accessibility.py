"""The staff pages pass axe-core: no "serious" or "critical" violation on any page, at a
laptop's and a phone's width, before and after a result is shown.

axe-core is the copy ``axe-playwright-python`` ships (``axe.min.js``), injected into the page:
nothing is fetched, and the test checks the page asked only the live platform for anything.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

RESULT_TIMEOUT_MS = 120_000
WIDTHS = {"laptop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
FAILING_IMPACTS = {"serious", "critical"}


def axe_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page).response
    return [v for v in results["violations"] if v["impact"] in FAILING_IMPACTS]


def report(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        lines.extend(f"    {target}" for target in targets)
    return "\n".join(lines)


def check_each_width(page, state: str) -> list[str]:
    """axe at each width: what it found, one entry per page state and width."""
    found = []
    for width, viewport in WIDTHS.items():
        page.set_viewport_size(viewport)
        if violations := axe_violations(page):
            where = f"{urlsplit(page.url).path} {state}, {width} ({viewport['width']} px)"
            found.append(f"{where}:\n{report(violations)}")
    return found


def watch_requests(page, base_url: str) -> list[str]:
    """The URLs the page asks of anything but the live platform (filled as it runs):
    requests and WebSockets; data: and blob: URLs are the page's own."""
    platform = urlsplit(base_url).netloc
    elsewhere: list[str] = []

    def seen(url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme in {"http", "https", "ws", "wss"} and parts.netloc != platform:
            elsewhere.append(url)

    page.on("request", lambda request: seen(request.url))
    page.on("websocket", lambda socket: seen(socket.url))
    return elsewhere


def show_leukemia(page) -> None:
    page.click("#generate")
    page.wait_for_selector("#result:not([hidden])", timeout=RESULT_TIMEOUT_MS)


def show_cxr(page) -> None:
    page.click("#generate")
    page.wait_for_selector("#result:not([hidden])", timeout=RESULT_TIMEOUT_MS)
    page.wait_for_selector("#findings-table tbody tr")


def show_vhs(page) -> None:
    page.click("#generate")
    page.wait_for_function("() => document.querySelectorAll('#thumbs img').length === 1")
    page.fill("#uuid", "axe-dog-1")  # stored: the history chart is shown too
    page.click("#measure")
    page.wait_for_selector("#result:not([hidden])", timeout=RESULT_TIMEOUT_MS)
    page.wait_for_selector('circle[data-landmark="heart_bottom"]')
    page.wait_for_selector("#history svg")


def show_pop(page) -> None:
    page.fill("#pop-frames", "3")
    page.click("#generate")
    page.wait_for_function(
        "() => !document.getElementById('error').hidden || "
        "/^(complete|failed|stopped)/.test(document.getElementById('session-state').textContent)",
        timeout=RESULT_TIMEOUT_MS,
    )
    assert page.locator("#result").is_visible(), page.locator("#frames").inner_text()


PAGES: dict[str, Callable] = {
    "/try/leukemia/": show_leukemia,
    "/try/cxr/": show_cxr,
    "/try/vhs/": show_vhs,
    "/try/pop/": show_pop,
}


def test_the_check_names_each_serious_violation_with_its_targets_and_help(chromium):
    page = chromium.new_page()
    try:
        page.set_content(
            '<!doctype html><html lang="en"><title>t</title><main><h1>t</h1>'
            '<img src="data:," id="photo"><button id="icon"></button></main></html>'
        )
        found = report(axe_violations(page))
    finally:
        page.close()
    assert "image-alt (critical): Images must have alternative text\n    #photo" in found
    assert "button-name (critical): Buttons must have discernible text\n    #icon" in found


def test_the_login_page_has_no_serious_accessibility_violation(chromium, platform_stack):
    context = chromium.new_context(base_url=platform_stack.base_url)
    try:
        page = context.new_page()
        elsewhere = watch_requests(page, platform_stack.base_url)
        page.goto("/login/")
        found = check_each_width(page, "logged out")
    finally:
        context.close()
    assert not found, "\n".join(found)
    assert not elsewhere, elsewhere


def test_every_staff_page_has_no_serious_accessibility_violation_empty_or_with_a_result(
    staff_page,
):
    """One logged-in browser for every page (a login each would cost more than axe does);
    the assertion names every violation on every page."""
    page = staff_page.page
    elsewhere = watch_requests(page, staff_page.base_url)
    page.goto("/")
    page.wait_for_selector("#health:not([hidden])")
    page.wait_for_selector(".models .badge")
    found = check_each_width(page, "with health shown")
    for path, show_result in PAGES.items():
        page.set_viewport_size(WIDTHS["laptop"])
        page.goto(path)
        found += check_each_width(page, "empty")
        page.set_viewport_size(WIDTHS["laptop"])
        show_result(page)
        found += check_each_width(page, "with a result shown")
    assert not found, "\n".join(found)
    assert not elsewhere, elsewhere
