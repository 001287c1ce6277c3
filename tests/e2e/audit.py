"""What every page must pass in a real browser: axe-core finds no serious or
critical problem, nothing scrolls sideways, and (on a phone) every control is
a comfortable thumb target."""

from __future__ import annotations

from typing import NamedTuple

from axe_playwright_python.sync_playwright import Axe

TARGET = 44  # px, the smallest comfortable touch target (WCAG 2.5.5)
_AXE = Axe()

# The box a finger has to hit, for each visible control on the page. Links
# inside running text are exempt (WCAG's "inline" exception), as is a check
# box or radio whose whole label is the target.
_SMALL_TARGETS = """
(minimum) => {
  const controls = document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button]');
  const small = [];
  for (const el of controls) {
    let box = el;
    if (el.matches('input[type=checkbox], input[type=radio]')) {
      box = el.closest('label') || (el.id && document.querySelector(`label[for="${el.id}"]`)) || el;
    }
    const style = getComputedStyle(box);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    const rect = box.getBoundingClientRect();
    if (rect.width === 0 && rect.height === 0) continue;
    if (rect.right < 0 || rect.bottom < 0) continue;  // moved off screen (skip link)
    if (el.matches('a') && style.display === 'inline') {
      const block = el.parentElement.closest('p, li, td, dd, small, span, label, div');
      const text = block ? block.textContent.trim() : '';
      if (text.length > el.textContent.trim().length) continue;
    }
    if (rect.width < minimum || rect.height < minimum) {
      const name = (el.getAttribute('aria-label') || el.textContent || el.value || el.name || '').trim().slice(0, 40);
      small.push(`${el.tagName.toLowerCase()} "${name}" ${Math.round(rect.width)}x${Math.round(rect.height)}`);
    }
  }
  return small;
}
"""

_OVERFLOW = """
() => {
  const doc = document.documentElement;
  if (doc.scrollWidth <= doc.clientWidth + 1) return null;
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const rect = el.getBoundingClientRect();
    if (rect.right > doc.clientWidth + 1 && !el.closest('.table-scroll')) {
      wide.push(`${el.tagName.toLowerCase()}${el.className ? '.' + String(el.className).split(' ').join('.') : ''}`);
    }
  }
  return `page is ${doc.scrollWidth}px wide in a ${doc.clientWidth}px window: ` + wide.slice(0, 5).join(', ');
}
"""


def axe_problems(page) -> list[str]:
    """Serious and critical axe-core violations, one line per rule."""
    results = _AXE.run(page)
    return [
        f"{violation['impact']} {violation['id']}: {violation['help']} — "
        + "; ".join(node["target"][0] if isinstance(node["target"][0], str) else str(node["target"])
                    for node in violation["nodes"][:4])
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


# Text a phone shows smaller than this needs zooming to read.
SMALLEST_TEXT = 12  # px

_SMALL_TEXT = """
(minimum) => {
  const small = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || el.closest('svg, script, style, .visually-hidden')) continue;
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 || rect.height === 0 || rect.right < 0) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < minimum) small.push(`${size}px "${node.textContent.trim().slice(0, 30)}"`);
  }
  return small;
}
"""


def layout_problems(page, *, touch: bool) -> list[str]:
    """Sideways scrolling anywhere; on a phone also small targets and text too small to read."""
    problems = []
    wide = page.evaluate(_OVERFLOW)
    if wide:
        problems.append(wide)
    if touch:
        problems += [f"small target {item}" for item in page.evaluate(_SMALL_TARGETS, TARGET)]
        problems += [f"text too small {item}" for item in page.evaluate(_SMALL_TEXT, SMALLEST_TEXT)]
    return problems


class Size(NamedTuple):
    width: int
    height: int
    scheme: str
    touch: bool
    axe: bool = True


SIZES = {
    "phone-390-light": Size(390, 844, "light", touch=True),
    "desktop-1280-light": Size(1280, 800, "light", touch=False),
    "phone-360-dark": Size(360, 740, "dark", touch=True),
    "desktop-1280-dark": Size(1280, 800, "dark", touch=False),
    # The widest common phone: layout only (the same CSS as 390 px, so axe adds nothing).
    "phone-430-light": Size(430, 932, "light", touch=True, axe=False),
}


def new_context(browser, size: Size):
    """A browser context of that size and colour scheme (a touch phone or a laptop)."""
    return browser.new_context(viewport={"width": size.width, "height": size.height}, color_scheme=size.scheme,
                               is_mobile=size.touch, has_touch=size.touch,
                               device_scale_factor=2 if size.touch else 1)


def problems_on(page, size: Size) -> list[str]:
    found = layout_problems(page, touch=size.touch)
    return found + axe_problems(page) if size.axe else found
