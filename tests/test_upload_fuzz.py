"""Standing check (issue 12): every upload form and every command that reads a file, fed hostile
files (ZIP bombs, huge lines, NUL bytes, wrong magic numbers, 100,000 columns, path-traversal
names), answers with a clear error, never a 500 or a traceback, and writes nothing: no callee,
no customer, no voice file, no file under MEDIA_ROOT with a traversal name. The upload entry
points are found from the admin registry and the commands' arguments, so a new one fails here
until it is covered. Memory is measured in tests/test_upload_limits.py (a subprocess)."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib import admin
from django.core.management import CommandError, call_command
from django.db import models
from import_export.admin import ImportMixin

from campaigns.models import AiCustomer, Callee, CalleeImport, Campaign, ItnioApp, VoiceFile
from tests import hostile
from tests.ai.conftest import make_task
from tests.audio import wav_bytes
from tests.conftest import AI_APP_ID

#: The upload pages of the admin: (model label, URL path after /admin/).
UPLOAD_PAGES = {
    "campaigns.Callee": "campaigns/callee/import/",
    "campaigns.AiCustomer": "campaigns/aicustomer/import/",
    "campaigns.VoiceFile": "campaigns/voicefile/add/",
    "campaigns.ContactList": "campaigns/contactlist/import/",
    "campaigns.SuppressionEntry": "campaigns/suppressionentry/import/",
}
#: Commands that read a file named on their command line.
FILE_COMMANDS = {
    "import_callees", "ai_import_customers", "upload_voice_file", "import_contacts", "dnc_import",
    "import_rates",
}  # fmt: skip
#: Models whose file fields no admin form edits (written only by the portal itself).
PORTAL_WRITTEN_FILES = {"campaigns.CalleeImport", "campaigns.ContactImport"}


@pytest.fixture(scope="module")
def big_cases(tmp_path_factory) -> dict[str, tuple[str, bytes]]:
    folder = tmp_path_factory.mktemp("fuzz")
    strings = hostile.shared_string_bomb(folder / "bomb.xlsx")
    rows = hostile.lying_dimension(folder / "rows.xlsx", 30_000_000)
    return {
        "zip-bomb": ("callees.xlsx", strings.read_bytes()),
        "30m-rows-in-a1-a3": ("callees.xlsx", rows.read_bytes()),
        # With IMPORT_MAX_LINE_CHARS lowered to 10,000 (the real 100 MB case is in
        # test_upload_limits): a long data line and a long header line.
        "huge-line": ("callees.csv", b"phone,name\n6281234567890," + b"n" * 50_000 + b"\n"),
        "huge-header": ("callees.csv", b"phone," + b"h" * 50_000 + b"\n6281234567890\n"),
    }


@pytest.fixture
def cases(big_cases) -> dict[str, tuple[str, bytes]]:
    return {**big_cases, **hostile.small_cases()}


HOSTILE = [
    "zip-bomb",
    "30m-rows-in-a1-a3",
    "huge-line",
    "huge-header",
    "nul-bytes",
    "png-as-xlsx",
    "gzip-as-csv",
    "100k-columns",
    "200kb-header-field",
]


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.IMPORT_MAX_LINE_CHARS = 10_000


@pytest.fixture
def ai_app(account) -> ItnioApp:
    return account.apps.get(app_id=AI_APP_ID)


@pytest.fixture
def campaign(voice_app) -> Campaign:
    voice_file = VoiceFile.objects.create(
        app=voice_app, file_name="hello.wav", audio="voice/hello.wav", state="uploaded"
    )
    return Campaign.objects.create(name="Spring", app=voice_app, voice_file=voice_file)


def multipart(fields: dict[str, object], file_field: str, name: str, data: bytes):
    """A multipart body with the file name exactly as given (the test client would strip a
    path from it; a browser or a script need not)."""
    boundary = "fuzzBoundary7MA4YWxkTrZu0gW"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def assert_nothing_written(media: Path) -> None:
    assert not Callee.objects.exists()
    assert not AiCustomer.objects.exists()
    assert not VoiceFile.objects.exclude(file_name="hello.wav").exists()
    stored = [p for p in media.rglob("*") if p.is_file()] if media.exists() else []
    for path in stored:
        assert ".." not in path.relative_to(media).parts
        assert "passwd" not in path.name, path


# ---------------------------------------------------------------------------
# Every upload entry point is covered
# ---------------------------------------------------------------------------
def test_every_upload_form_is_in_the_fuzz():
    found = {}
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label
        own_import = any(
            getattr(url, "name", "") == f"{model._meta.app_label}_{model._meta.model_name}_import"
            for url in model_admin.get_urls()
        )
        if isinstance(model_admin, ImportMixin) or own_import:
            found[label] = "import"
        elif any(isinstance(f, models.FileField) for f in model._meta.get_fields()):
            found[label] = "file field"
    assert set(found) - PORTAL_WRITTEN_FILES == set(UPLOAD_PAGES), found


def test_every_command_that_reads_a_file_is_in_the_fuzz():
    reading = set()
    for app in apps.get_app_configs():
        if not app.name.startswith(("campaigns", "sipphones", "portal")):
            continue
        try:
            package = importlib.import_module(f"{app.name}.management.commands")
        except ModuleNotFoundError:
            continue
        for info in pkgutil.iter_modules(package.__path__):
            command = importlib.import_module(f"{package.__name__}.{info.name}").Command()
            parser = command.create_parser("manage.py", info.name)
            dests = {action.dest for action in parser._actions}
            if dests & {"file", "path", "csv", "xlsx"}:
                reading.add(info.name)
    assert reading == FILE_COMMANDS


# ---------------------------------------------------------------------------
# The admin pages
# ---------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("case", HOSTILE)
def test_callee_import_page(client, operator, campaign, cases, case):
    name, data = cases[case]
    client.force_login(operator)
    body, content_type = multipart({"campaign": campaign.pk}, "import_file", name, data)
    page = client.post("/admin/" + UPLOAD_PAGES["campaigns.Callee"], body, content_type)
    assert page.status_code == 200
    assert 'class="errorlist' in page.content.decode(), text(page)[:2000]
    assert "encountered while trying to read file" not in text(page)
    assert not CalleeImport.objects.exists()
    assert_nothing_written(Path(django_settings.MEDIA_ROOT))


@pytest.mark.django_db
@pytest.mark.parametrize("case", HOSTILE)
def test_ai_customer_import_page(client, admin_user, ai_app, cases, case):
    task = make_task(ai_app)
    name, data = cases[case]
    client.force_login(admin_user)
    body, content_type = multipart({"task": task.pk}, "import_file", name, data)
    page = client.post("/admin/" + UPLOAD_PAGES["campaigns.AiCustomer"], body, content_type)
    assert page.status_code == 200
    assert 'class="errorlist' in page.content.decode(), text(page)[:2000]
    assert "encountered while trying to read file" not in text(page)
    assert_nothing_written(Path(django_settings.MEDIA_ROOT))


@pytest.mark.django_db
@pytest.mark.parametrize("case", HOSTILE)
def test_voice_file_upload_page(client, operator, voice_app, cases, case):
    _, data = cases[case]
    client.force_login(operator)
    fields = {"app": voice_app.pk, "file_name": "welcome.mp3"}
    body, content_type = multipart(fields, "audio", "welcome.mp3", data)
    page = client.post("/admin/" + UPLOAD_PAGES["campaigns.VoiceFile"], body, content_type)
    assert page.status_code == 200
    assert "ITNIO accepts MP3, M4A or WAV" in text(page)
    assert_nothing_written(Path(django_settings.MEDIA_ROOT))


@pytest.mark.django_db
@pytest.mark.parametrize("case", HOSTILE)
def test_contact_list_import_page(client, operator, cases, case):
    from campaigns.models import Contact, ContactImport, ContactList

    name, data = cases[case]
    client.force_login(operator)
    body, content_type = multipart({"list_name": "Fuzz"}, "import_file", name, data)
    page = client.post("/admin/" + UPLOAD_PAGES["campaigns.ContactList"], body, content_type)
    assert page.status_code == 200
    assert 'class="errorlist' in page.content.decode(), text(page)[:2000]
    assert not (Contact.objects.exists() or ContactImport.objects.exists())
    assert not ContactList.objects.filter(name="Fuzz").exists()
    assert_nothing_written(Path(django_settings.MEDIA_ROOT))


@pytest.mark.django_db
@pytest.mark.parametrize("case", HOSTILE)
def test_do_not_call_import_page(client, operator, cases, case):
    from campaigns.models import SuppressionEntry, SuppressionList

    name, data = cases[case]
    client.force_login(operator)
    target = SuppressionList.objects.create(name="Fuzz")
    fields = {"suppression_list": target.pk, "reason": "fuzz"}
    body, content_type = multipart(fields, "import_file", name, data)
    page = client.post("/admin/" + UPLOAD_PAGES["campaigns.SuppressionEntry"], body, content_type)
    assert page.status_code == 200
    assert 'class="errorlist' in page.content.decode(), text(page)[:2000]
    assert not SuppressionEntry.objects.exists()
    assert_nothing_written(Path(django_settings.MEDIA_ROOT))


@pytest.mark.django_db
def test_traversal_names_on_the_upload_pages(client, admin_user, campaign, ai_app):
    """The multipart file name is reduced to a name; the voice file's ITNIO name (which names
    the stored file too) is a form error, not a bare 400 page (issue 12, defect 10)."""
    name, data = hostile.small_cases()["traversal-name"]
    client.force_login(admin_user)
    body, content_type = multipart({"campaign": campaign.pk}, "import_file", name, data)
    preview = client.post("/admin/" + UPLOAD_PAGES["campaigns.Callee"], body, content_type)
    assert preview.status_code == 200
    assert preview.context["confirm_form"].initial["original_file_name"] == "passwd.csv"
    task = make_task(ai_app)
    body, content_type = multipart({"task": task.pk}, "import_file", name, data)
    preview = client.post("/admin/" + UPLOAD_PAGES["campaigns.AiCustomer"], body, content_type)
    assert preview.status_code == 200
    for file_name in ("../../etc/passwd.wav", "voice/../x.wav", "..\\x.wav", "a\x00b.wav"):
        fields = {"app": campaign.app.pk, "file_name": file_name}
        body, content_type = multipart(fields, "audio", "x.wav", wav_bytes())
        page = client.post("/admin/" + UPLOAD_PAGES["campaigns.VoiceFile"], body, content_type)
        assert page.status_code == 200, file_name
        assert 'class="errorlist' in page.content.decode(), file_name
    assert_nothing_written(Path(django_settings.MEDIA_ROOT))


# ---------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------
def _write(tmp_path: Path, case: str, name: str, data: bytes) -> Path:
    path = tmp_path / case / Path(name).name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.django_db
@pytest.mark.parametrize("case", HOSTILE)
def test_import_callees_command(campaign, cases, case, tmp_path):
    path = _write(tmp_path, case, *cases[case])
    with pytest.raises(CommandError) as refused:
        call_command("import_callees", str(campaign.pk), str(path))
    assert refused.value.returncode == 2
    assert str(path) in str(refused.value)
    assert_nothing_written(Path(django_settings.MEDIA_ROOT))


@pytest.mark.django_db
@pytest.mark.parametrize("case", HOSTILE)
def test_ai_import_customers_command(ai_app, cases, case, tmp_path):
    task = make_task(ai_app)
    path = _write(tmp_path, case, *cases[case])
    with pytest.raises(CommandError) as refused:
        call_command("ai_import_customers", str(task.pk), str(path))
    assert refused.value.returncode == 1
    assert path.name in str(refused.value)
    assert_nothing_written(Path(django_settings.MEDIA_ROOT))


@pytest.mark.django_db
@pytest.mark.parametrize("case", HOSTILE)
def test_import_contacts_and_dnc_import_commands(cases, case, tmp_path):
    from campaigns.models import Contact, ContactList, SuppressionEntry

    path = _write(tmp_path, case, *cases[case])
    with pytest.raises(CommandError) as refused:
        call_command("import_contacts", "Fuzz", str(path))
    assert refused.value.returncode == 2
    assert not (Contact.objects.exists() or ContactList.objects.filter(name="Fuzz").exists())
    with pytest.raises(CommandError) as refused:
        call_command("dnc_import", str(path))
    assert refused.value.returncode == 2
    assert not SuppressionEntry.objects.exists()
    assert_nothing_written(Path(django_settings.MEDIA_ROOT))


@pytest.mark.django_db
@pytest.mark.parametrize("case", HOSTILE)
def test_import_rates_command(voice_app, cases, case, tmp_path):
    from campaigns.models import AppRate

    path = _write(tmp_path, case, *cases[case])
    with pytest.raises(CommandError) as refused:
        call_command("import_rates", voice_app.app_id, str(path))
    assert refused.value.returncode in (1, 2) and str(refused.value)
    assert not AppRate.objects.exists()
    assert_nothing_written(Path(django_settings.MEDIA_ROOT))


@pytest.mark.django_db
@pytest.mark.parametrize("case", HOSTILE)
def test_upload_voice_file_command(voice_app, cases, case, tmp_path):
    path = _write(tmp_path, case, "welcome.mp3", cases[case][1])
    with pytest.raises(CommandError, match="ITNIO accepts MP3, M4A or WAV"):
        call_command("upload_voice_file", "--app", voice_app.app_id, str(path))
    assert_nothing_written(Path(django_settings.MEDIA_ROOT))


@pytest.mark.django_db
def test_traversal_names_on_the_commands(voice_app, campaign, tmp_path):
    audio = tmp_path / "welcome.wav"
    audio.write_bytes(wav_bytes())
    for name in ("../../etc/passwd.wav", "sub/../../x.wav", ".hidden.wav"):
        with pytest.raises(CommandError, match="a name, not a path") as refused:
            call_command("upload_voice_file", "--app", voice_app.app_id, str(audio), "--name", name)
        assert refused.value.returncode == 2
    # A path with ../ in it is a path like any other; what is stored is named by its last part.
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd.csv").write_bytes(b"phone\n6281234567890\n")
    call_command("import_callees", str(campaign.pk), str(tmp_path / "a/b/../../etc/passwd.csv"))
    stored = CalleeImport.objects.get()
    assert stored.original_name == "passwd.csv"
    assert Path(stored.file.path).resolve().is_relative_to(Path(django_settings.MEDIA_ROOT))
