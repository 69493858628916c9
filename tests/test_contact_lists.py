"""Contact lists through the one import pipeline (import_contacts) and do-not-call from the
command line (dnc_add, dnc_import, dnc_remove)."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.core.management import call_command
from django.core.management.base import CommandError

from campaigns.models import Contact, ContactList, SuppressionEntry, SuppressionList
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db

SG_FILE = (
    "Phone,Name,tier,city\n"
    "9123 4567,Ana,gold,Singapore\n"  # national, valid with SG
    "+6581234567,Ben,silver,\n"
    "1234 5678,Cy,gold,\n"  # not a valid Singapore number
    "91234567,Ana again,gold,\n"  # duplicate of row 2
    "+60123456789,Dee,gold,KL\n"  # Malaysia, written internationally
)


@pytest.fixture
def sg_file(tmp_path):
    path = tmp_path / "sg.csv"
    path.write_text(SG_FILE, encoding="utf-8")
    return path


def run(*args):
    from io import StringIO

    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_contacts_with_a_default_region(sg_file):
    out, err = run("import_contacts", "Singapore VIPs", str(sg_file), "--default-region", "sg")
    assert "imported=3 rejected=1 duplicates=1" in out
    assert "not a valid Singapore number" in err
    contacts = {c.number: c for c in ContactList.objects.get(name="Singapore VIPs").contacts.all()}
    assert set(contacts) == {"6591234567", "6581234567", "60123456789"}
    ana = contacts["6591234567"]
    assert (ana.name, ana.country, ana.fields) == (
        "Ana",
        "SG",
        {"tier": "gold", "city": "Singapore"},
    )
    assert contacts["60123456789"].country == "MY"
    # Added to later: the numbers already there are duplicates; nothing new is exit 1.
    with pytest.raises(CommandError) as exc:
        run("import_contacts", "Singapore VIPs", str(sg_file), "--default-region", "SG")
    assert exc.value.returncode == 1
    assert Contact.objects.count() == 3


def test_import_contacts_dry_run_writes_nothing(sg_file):
    out, err = run("import_contacts", "New", str(sg_file), "--default-region", "SG", "--dry-run")
    assert "imported=3 rejected=1 duplicates=1" in out and "nothing was written" in err
    assert not ContactList.objects.exists() and not Contact.objects.exists()


def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, sg_file):
    no_number = tmp_path / "names.csv"
    no_number.write_text("name,city\nAna,Singapore\n", encoding="utf-8")
    with pytest.raises(CommandError, match="No number column") as exc:
        run("import_contacts", "L", str(no_number))
    assert exc.value.returncode == 2
    with pytest.raises(CommandError, match="XX") as exc:
        run("import_contacts", "L", str(sg_file), "--default-region", "XX")
    assert exc.value.returncode == 2
    assert not ContactList.objects.exists()


def test_without_a_region_numbers_are_read_as_carrying_their_country_code(sg_file):
    with pytest.raises(CommandError) as exc:
        run("import_contacts", "L", "/no/such/file.csv")
    assert exc.value.returncode == 2
    out, _ = run("import_contacts", "L", str(sg_file))
    assert "imported=4 rejected=0 duplicates=1" in out  # as import_callees does today
    assert Contact.objects.get(number="6581234567").country == "SG"
    assert Contact.objects.get(number="91234567").country == "IN"  # read as +91


def test_dnc_add_import_and_remove(tmp_path):
    out, _ = run("dnc_add", "+65 9123 4567", "6581234567", "--reason", "asked")
    assert out.strip() == "added=2 updated=0"
    entry = SuppressionEntry.objects.get(number="6591234567")
    assert entry.suppression_list.portal_wide and entry.reason == "asked"
    assert entry.source == "manual"
    out, _ = run("dnc_add", "6591234567", "--expires", "2031-01-31")
    assert out.strip() == "added=0 updated=1"
    assert SuppressionEntry.objects.get(number="6591234567").expires_at.year == 2031
    with pytest.raises(CommandError, match="No do-not-call list"):
        run("dnc_add", "6591234567", "--list", "nope")
    with pytest.raises(CommandError, match="Nothing was added: 12: 2 digits"):
        run("dnc_add", "12")

    SuppressionList.objects.create(name="Complaints")
    path = tmp_path / "dnc.csv"
    path.write_text("number\n6590000001\n6590000002\n6590000001\nabc\n", encoding="utf-8")
    out, _ = run("dnc_import", str(path), "--list", "Complaints", "--reason", "complaint")
    assert "imported=2 rejected=1 duplicates=1" in out
    assert SuppressionEntry.objects.filter(suppression_list__name="Complaints").count() == 2
    assert set(
        SuppressionEntry.objects.filter(suppression_list__name="Complaints").values_list(
            "source", flat=True
        )
    ) == {"import"}

    operator = make_staff("olga", "Operator")
    admin = make_staff("ada", "Admin")
    with pytest.raises(CommandError, match="Admins only"):
        run("dnc_remove", "6590000001", "--list", "Complaints", "--as", operator.username)
    assert SuppressionEntry.objects.filter(number="6590000001").exists()
    out, _ = run("dnc_remove", "6590000001", "--list", "Complaints", "--as", admin.username)
    assert out.strip() == "removed=1"
    assert not SuppressionEntry.objects.filter(number="6590000001").exists()
    log = LogEntry.objects.get(action_flag=DELETION)
    assert log.user == admin and log.object_repr == "6590000001"


def test_erasing_a_number_removes_it_from_contact_lists_and_keeps_it_suppressed(admin_user):
    contact_list = ContactList.objects.create(name="VIPs")
    Contact.objects.create(contact_list=contact_list, number="6591234567", name="Ada")
    Contact.objects.create(contact_list=contact_list, number="6581234567", name="Bob")
    run("dnc_add", "6591234567")
    run("erase_number", "+65 9123 4567", "--as", admin_user.username)
    assert list(Contact.objects.values_list("name", flat=True)) == ["Bob"]
    assert SuppressionEntry.objects.filter(number="6591234567").exists()


def test_a_file_that_fails_halfway_leaves_none_of_its_contacts(tmp_path, settings):
    from campaigns.models import ContactImport

    settings.IMPORT_MAX_ROWS = 5
    settings.CALLEE_IMPORT_CHUNK_ROWS = 2  # two chunks commit before the failure
    seen = []
    path = tmp_path / "long.csv"
    path.write_text("number\n" + "".join(f"+659100{i:04d}\n" for i in range(8)))
    real_bulk_create = Contact.objects.bulk_create

    def counting(objs, **kwargs):
        seen.append(len(objs))
        return real_bulk_create(objs, **kwargs)

    Contact.objects.bulk_create = counting
    try:
        with pytest.raises(CommandError, match="rows") as exc:
            run("import_contacts", "Long", str(path))
    finally:
        del Contact.objects.bulk_create
    assert exc.value.returncode == 2
    assert sum(seen) >= 4  # written, then removed
    assert not Contact.objects.exists()
    # Told at once on the command line: nothing stays, not the stored file nor the new list.
    assert not ContactImport.objects.exists()
    assert not ContactList.objects.filter(name="Long").exists()
