"""The screenshot sweep (issue 18): every admin page a superuser can open, at 1366×768 and
1920×1080, in English and in Chinese, saved under test-artifacts/sweep/ for a person to look at,
and checked for what a person would notice first: a page that scrolls sideways, a box whose
content is cut off, a header that runs into the content.

Slow (four passes over some eighty pages): it runs where PORTAL_SCREENSHOT_SWEEP=1, which
.ci/run sets for the PostgreSQL run only."""

from __future__ import annotations

import os
import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Error as PlaywrightError

from tests.admin_objects import one_of_each
from tests.browser.conftest import ARTIFACTS
from tests.browser.helpers import log_in
from tests.test_permission_matrix import Run, admin_endpoints

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        os.environ.get("PORTAL_SCREENSHOT_SWEEP") != "1",
        reason="the screenshot sweep runs with PORTAL_SCREENSHOT_SWEEP=1 (CI's PostgreSQL run)",
    ),
]

SIZES = [(1366, 768), (1920, 1080)]
LANGUAGES = ["en", "zh-hans"]
# PORTAL_SWEEP_ONLY=zh-hans-1366 narrows a local run to one pass.
ONLY = os.environ.get("PORTAL_SWEEP_ONLY", "")
SKIPPED_VIEWS = {
    "logout", "jsi18n", "catch_all", "view_on_site", "autocomplete", "delete_view", "redirect",
}  # fmt: skip

PROBLEMS = """() => {
  const problems = [];
  if (document.documentElement.scrollWidth > window.innerWidth + 1)
    problems.push('the page scrolls sideways');
  const shown = el => {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    return r.width > 2 && r.height > 2 && style.visibility !== 'hidden' &&
      el.closest('.visually-hidden') === null;  // for screen readers, drawn nowhere
  };
  document.querySelectorAll('#content .module, #content fieldset, .breadcrumbs').forEach(box => {
    const style = getComputedStyle(box);
    if (style.overflowX === 'auto' || style.overflowX === 'scroll') return;  // scrolls itself
    const edge = box.getBoundingClientRect().right;
    for (const child of box.querySelectorAll('*')) {
      if (child.closest('.results') !== null) continue;  // the table: checked below
      // What a person reads or uses: an element with text of its own, a control, a picture.
      const own = [...child.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()) ||
        ['INPUT', 'SELECT', 'BUTTON', 'IMG', 'CANVAS', 'AUDIO', 'svg'].includes(child.tagName);
      if (own && shown(child) && child.getBoundingClientRect().right > edge + 2) {
        const text = (child.innerText || child.value || '').trim().slice(0, 30);
        problems.push((box.id || box.className || box.tagName) + ' cuts off ' +
                      child.tagName.toLowerCase() + (text ? ' "' + text + '"' : ''));
        break;
      }
    }
  });
  document.querySelectorAll('#content .results').forEach(table => {
    if (table.scrollWidth > table.clientWidth + 2)
      problems.push('the table must be scrolled sideways to read its last columns (' +
                    (table.scrollWidth - table.clientWidth) + ' px more)');
  });
  const header = document.querySelector('#header');
  const content = document.querySelector('#content');
  if (header && content &&
      header.getBoundingClientRect().bottom > content.getBoundingClientRect().top + 1)
    problems.push('the header runs into the content');
  return problems;
}"""


def _pages(account, sandbox_state) -> list[str]:
    run = Run("Admin", one_of_each(account), sandbox_state)
    urls = []
    for endpoint in admin_endpoints():
        if endpoint.name in SKIPPED_VIEWS or endpoint.view in SKIPPED_VIEWS:
            continue
        if endpoint.access is not None and "GET" not in endpoint.access.methods:
            continue  # a button's POST target, not a page
        urls.append(run.url_for(endpoint))
    return list(dict.fromkeys(urls))


def _name(url: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", url.lower()).strip("-") or "index"


def test_every_admin_page_at_both_sizes_in_both_languages(
    browser, live_server, account, sandbox, sandbox_state
):
    urls = _pages(account, sandbox_state)
    User.objects.create_superuser("sweep", "sweep@example.com", "pw")
    problems: list[str] = []
    shots = 0
    for language in LANGUAGES:
        for width, height in SIZES:
            if ONLY and ONLY != f"{language}-{width}":
                continue
            folder = ARTIFACTS / "sweep" / f"{language}-{width}x{height}"
            folder.mkdir(parents=True, exist_ok=True)
            context = browser.new_context(
                viewport={"width": width, "height": height}, locale=language
            )
            context.add_cookies(
                [{"name": "django_language", "value": language, "url": live_server.url}]
            )
            page = context.new_page()
            page.set_default_timeout(20_000)
            log_in(page, live_server, "sweep")
            page.wait_for_selector("#needs-attention")
            for url in urls:
                try:
                    response = page.goto(live_server.url + url)
                except PlaywrightError as error:
                    if "Download is starting" in str(error):
                        continue  # a CSV export, not a page
                    raise
                if response is None or response.status != 200:
                    continue
                if "html" not in (response.headers.get("content-type") or ""):
                    continue
                page.wait_for_load_state("networkidle")
                assert page.evaluate("document.documentElement.lang") == language, url
                page.screenshot(path=str(folder / f"{_name(url)}.png"))
                shots += 1
                problems += [f"{language} {width}: {url}: {p}" for p in page.evaluate(PROBLEMS)]
            context.close()
    assert shots > (1 if ONLY else 4) * 40  # the sweep really walked the admin
    assert problems == [], "\n".join(problems)
