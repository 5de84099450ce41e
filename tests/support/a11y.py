"""Accessibility helpers for the browser tests: axe-core over a page, and moving by keyboard.

axe-core is the copy `axe-playwright-python` ships; it is injected through Playwright's evaluate,
which the client's Content-Security-Policy does not govern, so the page is checked as served.
"""

from __future__ import annotations

from typing import Any

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Locator, Page

# The impacts that fail a page; "minor" and "moderate" findings are reported by axe but tolerated.
BLOCKING = frozenset({"serious", "critical"})
# How many Tab presses `tab_to` tries before it gives up: more than any page of Duet has stops.
TAB_LIMIT = 80

_AXE = Axe()


# Colours are judged once CSS transitions have run: mid-fade, a button is a blend of two colours.
_TRANSITIONS_DONE_JS = """() => document.getAnimations()
  .filter((a) => a.effect && a.effect.getTiming().iterations !== Infinity)
  .every((a) => a.playState !== 'running')"""


async def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now, one line each."""
    await page.wait_for_function(_TRANSITIONS_DONE_JS)
    results = await _AXE.run(page)
    lines = []
    for violation in results.response["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        for node in violation["nodes"]:
            lines.append(
                f"{violation['id']} ({violation['impact']}): {node['target']} "
                f"{node.get('failureSummary', '').splitlines()[-1:]}"
            )
    return lines


async def assert_accessible(page: Page, where: str) -> None:
    found = await serious_violations(page)
    assert not found, f"axe-core on {where}:\n" + "\n".join(found)


async def focused_matches(page: Page, locator: Locator) -> bool:
    handle = await locator.element_handle()
    if handle is None:
        return False
    same: bool = await page.evaluate("(el) => document.activeElement === el", handle)
    return same


async def tab_to(page: Page, locator: Locator, *, backwards: bool = False) -> None:
    """Press Tab (or Shift+Tab) until `locator` has the focus, at most TAB_LIMIT times."""
    await locator.wait_for(state="visible")
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(TAB_LIMIT):
        if await focused_matches(page, locator):
            return
        await page.keyboard.press(key)
    if await focused_matches(page, locator):
        return
    where = await page.evaluate("() => document.activeElement.outerHTML.slice(0, 200)")
    raise AssertionError(f"{TAB_LIMIT} presses of {key} never focused {locator}; at {where}")


async def focus_ring(page: Page) -> dict[str, Any]:
    """The focused element's outline, to check that the focus can be seen."""
    ring: dict[str, Any] = await page.evaluate(
        """() => {
          const s = getComputedStyle(document.activeElement);
          return {style: s.outlineStyle, width: parseFloat(s.outlineWidth) || 0,
                  shadow: s.boxShadow, tag: document.activeElement.tagName};
        }"""
    )
    return ring
