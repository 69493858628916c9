"""English and Simplified Chinese (issue 18): the zh_Hans catalogue holds a translation of every
string the code marks, the compiled catalogue matches it, and every admin page rendered in Chinese
shows no English words of the portal's own (data, ITNIO's names and codes aside).

The catalogue check extracts the messages afresh with Django's makemessages (GNU gettext's
xgettext), so a string marked today without a translation fails it."""

from __future__ import annotations

import gettext as gnu_gettext
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import models
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import translation

from tests.admin_objects import one_of_each
from tests.conftest import make_staff
from tests.test_imports import campaign, run_command  # noqa: F401  (a fixture, a helper)
from tests.test_permission_matrix import Run, admin_endpoints

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
LOCALE = ROOT / "itnio_portal" / "locale" / "zh_Hans" / "LC_MESSAGES"
# The same list as the README's "Translations" section.
IGNORE = [".venv", "var", "tests", "bench", "test-artifacts", "node_modules", ".ci", "*.min.js"]
DOMAINS = ("django", "djangojs")
SOURCES = ("campaigns", "sipphones", "itnio_portal", "templates")


def _needs_xgettext() -> None:
    if shutil.which("xgettext") is None:
        message = "GNU gettext is not installed (apt-get install gettext)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{message}: under CI a missing xgettext is a failure.")
        pytest.skip(message)


def _key(entry: polib.POEntry) -> tuple[str | None, str]:
    return entry.msgctxt, entry.msgid


def _translated(entry: polib.POEntry) -> bool:
    if entry.obsolete or "fuzzy" in entry.flags:
        return False
    if entry.msgid_plural:
        return bool(entry.msgstr_plural) and all(entry.msgstr_plural.values())
    return bool(entry.msgstr)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> dict[str, polib.POFile]:
    """What makemessages finds in the code today, per domain. It runs on a copy of the source
    without its locale folder (makemessages writes beside any locale folder it walks past)."""
    _needs_xgettext()
    work = tmp_path_factory.mktemp("source")
    skip = shutil.ignore_patterns("locale", "__pycache__", "vendor", "*.pyc")
    for folder in SOURCES:
        shutil.copytree(ROOT / folder, work / folder, ignore=skip)
    out = work / "extracted"
    cwd = os.getcwd()
    os.chdir(work)
    try:
        with translation.override(None), override_settings(LOCALE_PATHS=[str(out)]):
            for domain in DOMAINS:
                call_command(
                    "makemessages",
                    locale=["zh_Hans"],
                    domain=domain,
                    ignore_patterns=IGNORE,
                    no_obsolete=True,
                    verbosity=0,
                )
    finally:
        os.chdir(cwd)
    found = {}
    for domain in DOMAINS:
        path = out / "zh_Hans" / "LC_MESSAGES" / f"{domain}.po"
        found[domain] = polib.pofile(str(path)) if path.exists() else polib.POFile()
    return found


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_marked_string_has_a_chinese_translation(extracted, domain):
    committed = polib.pofile(str(LOCALE / f"{domain}.po"))
    done = {_key(e) for e in committed if _translated(e)}
    marked = [e for e in extracted[domain] if e.msgid]
    assert len(marked) > (1000 if domain == "django" else 2)  # the extraction really ran
    missing = [
        f"{e.occurrences[0][0] if e.occurrences else '?'}: {e.msgid!r}"
        for e in marked
        if _key(e) not in done
    ]
    assert missing == [], (
        f"{len(missing)} marked strings have no zh_Hans translation in {domain}.po "
        "(README, Translations):\n" + "\n".join(missing[:80])
    )


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_compiled_catalogue_matches_its_source(domain):
    """A fresh clone shows Chinese without running compilemessages: the .mo is committed and
    says what the .po says."""
    committed = polib.pofile(str(LOCALE / f"{domain}.po"))
    with open(LOCALE / f"{domain}.mo", "rb") as handle:
        compiled = gnu_gettext.GNUTranslations(handle)
    stale = []
    for entry in committed:
        if not _translated(entry):
            continue
        msgid = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid
        if entry.msgid_plural:
            got, want = compiled.ngettext(msgid, entry.msgid_plural, 1), entry.msgstr_plural[0]
        else:
            got, want = compiled.gettext(msgid), entry.msgstr
        if got != want:
            stale.append(entry.msgid)
    assert stale == [], f"compile the catalogue again (compilemessages): {stale[:20]}"


def test_placeholders_survive_translation():
    """A translation that loses or renames a placeholder would raise (or print a raw %(n)s) in
    Chinese only: every placeholder of the English is in the Chinese, and no other."""
    pattern = re.compile(r"%\([a-z_0-9]+\)[sdif]|%[sdif]|\{[a-z_0-9]*\}")
    broken = []
    for domain in DOMAINS:
        for entry in polib.pofile(str(LOCALE / f"{domain}.po")):
            if not _translated(entry):
                continue
            want = sorted(pattern.findall(entry.msgid))
            targets = entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]
            for target in targets:
                if sorted(pattern.findall(target)) != want and not entry.msgid_plural:
                    broken.append(f"{entry.msgid!r} -> {target!r}")
                elif entry.msgid_plural and not set(pattern.findall(target)) <= set(
                    want + pattern.findall(entry.msgid_plural)
                ):
                    broken.append(f"{entry.msgid!r} -> {target!r}")
    assert broken == [], "\n".join(broken[:40])


# --- pages rendered in Chinese ----------------------------------------------------------------

# Words that stay as they are in Chinese: ITNIO's own names, units, file types, codes.
KEPT = {
    "itnio", "sip", "tts", "csv", "xlsx", "tsv", "api", "url", "usd", "eur", "utc", "ai", "id",
    "ids", "asr", "dtmf", "wav", "mp", "json", "http", "https", "admin", "ok", "pdf", "rq",
    "django", "english", "md", "sha", "iso", "tz", "cc", "ip", "www", "com", "e", "g", "s", "ms",
    "h", "m", "x", "px", "null", "true", "false", "sqlite", "postgresql", "redis", "gunicorn",
    "control", "mac", "command",  # keys of the keyboard, in Django's own Chinese
    "manila",  # a city in the sandbox's line names
}  # fmt: skip
WORD = re.compile(r"[A-Za-z][A-Za-z'’]*")


# Not read as the page's words: scripts, and literal names set apart as code (commands, column
# names a file must have, ITNIO's endpoints and fields).
HIDDEN = {"script", "style", "template", "noscript", "code", "kbd", "samp"}
# Literal names inside Chinese text are quoted 「like this」 (ITNIO's console menus, say).
QUOTED = re.compile(r"「[^」]*」")
# Part of a technical token: manage.py, phone_number, /voice/sendSip, Windows-1252, HH:mm.
TECHNICAL = re.compile(
    r"[A-Za-z0-9]*[._/=:@\\-][A-Za-z0-9._/=:@\\-]*[A-Za-z0-9]|\{[^}]*\}|\S*\*{4,}\S*"
)  # … and masked secrets (Sn*******)


class _Visible(HTMLParser):
    """The text a person sees: text nodes outside script/style, and tooltips, placeholders and
    button labels."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in HIDDEN:
            self._hidden += 1
        values = dict(attrs)
        for name in ("title", "placeholder", "aria-label", "alt"):
            if values.get(name):
                self.parts.append(values[name])
        if tag == "input" and values.get("type") in {"submit", "button"} and values.get("value"):
            self.parts.append(values["value"])

    def handle_endtag(self, tag):
        if tag in HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def _data_values() -> list[str]:
    """Free text stored in the portal's tables: names, numbers, file names, reasons written by
    the test's own set-up. They are data, not the portal's words (choice values are not: the
    page shows their translated labels)."""
    values: set[str] = set()
    for model in apps.get_models():
        fields = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.FileField)
            and not f.choices
        ]
        if not fields:
            continue
        for row in model.objects.values_list(*fields):
            values.update(str(v) for v in row if v and len(str(v)) > 2)
        if model._meta.app_label in {"axes", "django_tasks_database"}:
            values.update(str(row) for row in model.objects.all()[:100])  # their own titles
    values.add("ITNIO Portal")  # the product's name
    return sorted(values, key=len, reverse=True)


def english_left(html: str, data: list[str]) -> dict[str, str]:
    """English words of the page's own text -> one place each was seen."""
    parser = _Visible()
    parser.feed(html)
    text = " ".join(" ".join(parser.parts).split())
    for value in data:
        if value in text:
            text = re.sub(rf"(?<![A-Za-z]){re.escape(value)}(?![A-Za-z])", " ", text)
    text = TECHNICAL.sub(" ", QUOTED.sub(" ", text))
    found: dict[str, str] = {}
    for match in WORD.finditer(text):
        word = match.group()
        if word.lower().strip("'’") in KEPT or len(word) == 1 or word in found:
            continue
        if any(c.isupper() for c in word[1:]):  # ITNIO's field names (voiceId), acronyms
            continue
        found[word] = text[max(0, match.start() - 25) : match.end() + 25]
    return found


@pytest.mark.slow
def test_every_admin_page_reads_chinese(account, sandbox, sandbox_state):
    rows = one_of_each(account)
    run = Run("Admin", rows, sandbox_state)
    from django.contrib.auth.models import User

    admin = User.objects.create_superuser("zh-reader", password="pw")
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(admin)
    data = _data_values()
    pages, english = 0, {}
    for endpoint in admin_endpoints():
        if endpoint.name in {"logout", "jsi18n", "catch_all", "view_on_site", "autocomplete"}:
            continue
        if endpoint.model_admin is not None and endpoint.view == "delete_view":
            continue
        url = run.url_for(endpoint)
        response = client.get(url)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        pages += 1
        assert 'lang="zh-hans"' in response.content.decode(), url
        left = english_left(response.content.decode(), data)
        if left:
            english[url] = left
    assert pages > 40  # the walk really rendered the admin
    words = sorted({w for found in english.values() for w in found})
    report = "\n".join(
        f"{url}: {list(found.values())[:6]}" for url, found in sorted(english.items())
    )
    assert english == {}, (
        f"English left on {len(english)} of {pages} pages ({len(words)} words: "
        f"{' '.join(words[:200])}):\n{report}"
    )


def test_the_header_switches_language_and_the_choice_sticks():
    user = make_staff("switcher", "Viewer")
    client = Client()
    client.force_login(user)
    index = reverse("admin:index")
    english = client.get(index).content.decode()
    assert 'lang="en"' in english and 'id="language-switcher"' in english
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": index})
    assert response.status_code == 302 and response["Location"] == index
    chinese = client.get(index).content.decode()
    assert 'lang="zh-hans"' in chinese
    assert "注销" in chinese  # Django's own "Log out", from the cookie the switcher set
    # The browser's preference decides until the user chooses.
    fresh = Client(HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    fresh.force_login(user)
    assert 'lang="zh-hans"' in fresh.get(index).content.decode()


def test_the_login_page_offers_the_switcher_too():
    page = Client(HTTP_ACCEPT_LANGUAGE="zh-hans").get(reverse("admin:login")).content.decode()
    assert 'id="language-switcher"' in page and "English" in page and "简体中文" in page


def test_the_command_line_follows_the_terminal_language():
    from manage import cli_language

    assert cli_language({"LANG": "zh_CN.UTF-8"}) == "zh-hans"
    assert cli_language({"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}) == "en"
    assert cli_language({"LC_MESSAGES": "zh_TW.UTF-8"}) == "zh-hans"
    assert cli_language({}) == "en"


@pytest.mark.usefixtures("campaign")
def test_a_command_speaks_chinese_but_its_script_lines_do_not(tmp_path):
    """Staff read the sentences in their language; scripts read key=value lines, which never
    change (no translation, no thousands separators)."""
    bad = tmp_path / "bad.csv"
    bad.write_text("phone\n12ab\n")
    with translation.override("zh-hans"):
        code, out, err = run_command("Spring", str(bad))
    assert (code, out) == (1, "imported=0 rejected=1 duplicates=0\n")
    assert "No row was imported." not in err and "没有" in err, err


def test_command_help_follows_the_terminal_language():
    import subprocess
    import sys

    env = {**os.environ, "LANG": "zh_CN.UTF-8"}
    for name in ("PORTAL_LANGUAGE", "LC_ALL", "LC_MESSAGES", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)  # manage.py's own settings, the language from LANG
    helped = subprocess.run(
        [sys.executable, "manage.py", "import_callees", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    english = subprocess.run(
        [sys.executable, "manage.py", "import_callees", "--help"],
        cwd=ROOT,
        env={**env, "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert re.search(r"[\u4e00-\u9fff]", helped.stdout), helped.stdout
    assert not re.search(r"[\u4e00-\u9fff]", english.stdout), english.stdout
