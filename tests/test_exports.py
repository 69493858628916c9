"""Call exports (CSV and XLSX) from the call change list: columns, exact money, the change list's
filters, formula neutralising (OWASP CSV injection), streaming and permissions."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.auth.models import Permission, User
from django.http import StreamingHttpResponse
from django.test import Client
from django.utils import timezone

from campaigns.exports import neutralise
from campaigns.models import Call, ItnioApp
from tests.conftest import AI_APP_ID

CSV_URL = "/admin/campaigns/call/export/csv/"
XLSX_URL = "/admin/campaigns/call/export/xlsx/"
HANGUP = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
# Plain decimal text: digits, one point, at most the six places the model stores.
# A float artefact (0.30000000000000004) or an exponent (3E-1) does not match.
MONEY = re.compile(r"^-?\d+(\.\d{1,6})?$")


def make_call(app, **fields) -> Call:
    defaults = {
        "kind": Call.Kind.TTS,
        "state": Call.State.FINAL,
        "callee": "919876543210",
        "hangup_time": HANGUP,
        "answer_time": HANGUP - timedelta(seconds=30),
        "submit_time": HANGUP - timedelta(seconds=45),
        "call_duration": 30,
        "charged_duration": 60,
        "bill_period": "60+60",
        "rate": Decimal("0.1"),
        "cost": Decimal("0.1") + Decimal("0.2"),  # 0.30000000000000004 as floats
        "base_cost": Decimal("0.3"),
        "currency": "USD",
        "termination_code": "200",
        "termination_reason": "success",
        "feedback_value": "-1",
    }
    defaults.update(fields)
    return Call.objects.create(app=app, **defaults)


def csv_rows(response) -> list[list[str]]:
    raw = b"".join(response.streaming_content)
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def xlsx_rows(response) -> list[list]:
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book.active
    assert sheet.title == "calls"
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def as_dicts(rows: list[list]) -> list[dict]:
    header, *body = rows
    return [dict(zip(header, row, strict=True)) for row in body]


def moment(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return timezone.make_aware(value) if timezone.is_naive(value) else value


@pytest.fixture
def superuser_client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


# ---------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------
def test_csv_export_has_headers_and_one_row_per_call(superuser_client, voice_app):
    calls = [
        make_call(voice_app, voice_id="1001", called_info="Café 東京"),
        make_call(
            voice_app,
            voice_id="1002",
            state=Call.State.SUBMITTED,
            hangup_time=None,
            answer_time=None,
            cost=None,
            base_cost=None,
            charged_duration=None,
            call_duration=None,
            feedback_value="",
            termination_code="",
            termination_reason="",
        ),
        make_call(voice_app, voice_id="1003", answer_time=None, call_duration=0),
    ]

    response = superuser_client.get(CSV_URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="calls-') and disposition.endswith('.csv"')
    rows = csv_rows(response)
    header = rows[0]
    assert header[:5] == ["id", "app", "kind", "state", "callee"]
    for column in (
        "voice_id",
        "called_info",
        "hangup_time",
        "answered",
        "charged_duration",
        "rate",
        "cost",
        "currency",
        "base_cost",
        "settle_rate",
        "quote_exchange",
        "settle_pay",
        "feedback_value",
        "created_by",
    ):
        assert column in header
    assert all(len(row) == len(header) for row in rows)
    by_voice = {row["voice_id"]: row for row in as_dicts(rows)}
    assert set(by_voice) == {"1001", "1002", "1003"}
    assert len(rows) == 1 + len(calls)
    final = by_voice["1001"]
    assert final["id"] == str(calls[0].pk)
    assert final["app"] == voice_app.app_id
    assert (final["kind"], final["state"]) == ("tts", "final")
    assert final["callee"] == "919876543210"
    assert final["called_info"] == "Café 東京"
    assert moment(final["hangup_time"]) == HANGUP
    assert final["answered"] == "yes"
    assert final["charged_duration"] == "60" and final["bill_period"] == "60+60"
    assert final["currency"] == "USD"
    assert final["feedback_value"] == "-1"
    assert by_voice["1003"]["answered"] == "no"  # final, never answered
    open_call = by_voice["1002"]
    assert open_call["answered"] == "" and open_call["state"] == "submitted"
    assert open_call["cost"] == "" and open_call["hangup_time"] == ""


def test_csv_response_is_streamed_and_starts_with_a_bom(superuser_client, voice_app):
    make_call(voice_app, voice_id="1001")

    response = superuser_client.get(CSV_URL)

    assert isinstance(response, StreamingHttpResponse)
    assert response.streaming
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbfid,app,")
    assert raw.count(b"\xef\xbb\xbf") == 1


def test_money_is_exact_decimal_text(superuser_client, voice_app):
    make_call(
        voice_app,
        voice_id="1001",
        currency="EUR",
        rate=Decimal("0.0276"),
        cost=Decimal("0.1") + Decimal("0.2"),
        base_cost=Decimal("98765.432109"),
        settle_rate=Decimal("0.0276"),
        quote_exchange=Decimal("0.92"),
        settle_pay=Decimal("0.000001"),
    )

    [row] = as_dicts(csv_rows(superuser_client.get(CSV_URL)))

    expected = {
        "rate": Decimal("0.0276"),
        "cost": Decimal("0.3"),
        "base_cost": Decimal("98765.432109"),
        "settle_rate": Decimal("0.0276"),
        "quote_exchange": Decimal("0.92"),
        "settle_pay": Decimal("0.000001"),
    }
    for column, value in expected.items():
        assert MONEY.match(row[column]), f"{column}: {row[column]!r}"
        assert Decimal(row[column]) == value, column
    assert row["currency"] == "EUR"


def test_the_change_list_filters_apply_to_the_export(superuser_client, voice_app, account):
    make_call(voice_app, voice_id="1001", callee="919800000001")
    make_call(voice_app, voice_id="1002", callee="628100000002", answer_time=None)
    make_call(voice_app, voice_id="1003", state=Call.State.SUBMITTED, hangup_time=None)
    make_call(voice_app, voice_id="1004", state=Call.State.UNKNOWN, hangup_time=None)
    other = ItnioApp.objects.create(account=account, app_id="OtherApp1")
    make_call(other, voice_id="2001")

    def exported(query: str) -> set[str]:
        response = superuser_client.get(CSV_URL + query)
        assert response.status_code == 200
        return {row["voice_id"] for row in as_dicts(csv_rows(response))}

    assert exported("") == {"1001", "1002", "1003", "1004", "2001"}
    assert exported("?state__exact=final") == {"1001", "1002", "2001"}
    assert exported(f"?state__exact=final&app__id__exact={voice_app.pk}") == {"1001", "1002"}
    assert exported("?answered=no") == {"1002"}
    assert exported("?q=62810") == {"1002"}
    assert exported("?q=1003") == {"1003"}
    # the XLSX takes the same query string
    xlsx = superuser_client.get(XLSX_URL + "?state__exact=submitted")
    assert [r["voice_id"] for r in as_dicts(xlsx_rows(xlsx))] == ["1003"]


def test_the_export_is_not_cut_to_one_page(superuser_client, voice_app):
    Call.objects.bulk_create(
        Call(
            app=voice_app,
            kind=Call.Kind.GROUP,
            state=Call.State.FINAL,
            callee=f"91980{i:07d}",
            voice_id=str(10_000 + i),
            cost=Decimal("0.012"),
        )
        for i in range(2100)  # more than a change-list page and than one iterator chunk
    )

    rows = csv_rows(superuser_client.get(CSV_URL))

    assert len(rows) == 2101
    assert len({row[0] for row in rows[1:]}) == 2100


def test_a_bad_filter_goes_back_to_the_change_list(superuser_client, voice_app):
    response = superuser_client.get(CSV_URL + "?placed_at__gte=not-a-date")
    assert response.status_code == 302
    assert response["Location"] == "/admin/campaigns/call/?e=1"


def test_an_unknown_format_is_404(superuser_client, voice_app):
    assert superuser_client.get("/admin/campaigns/call/export/pdf/").status_code == 404


# ---------------------------------------------------------------------------
# Formula neutralising
# ---------------------------------------------------------------------------
DANGEROUS = ['=HYPERLINK("http://x")', "+cmd", "-2+3", "@SUM(A1)", "\tx", "=1+1"]


@pytest.mark.parametrize("value", [*DANGEROUS, "\rx", "-", "+", "=", "- 1"])
def test_neutralise_prefixes_formula_text(value):
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["-1", "-12.5", "+44", "0.3", "-1e5", "plain", "", "a=b"])
def test_neutralise_leaves_numbers_and_plain_text(value):
    assert neutralise(value) == value


def test_neutralise_leaves_non_text_alone():
    assert neutralise(-3) == -3
    assert neutralise(None) is None


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_formulas_in_call_fields_are_exported_as_text(superuser_client, voice_app, fmt):
    for index, value in enumerate(DANGEROUS):
        make_call(
            voice_app,
            voice_id=f"30{index}",
            called_info=value,
            termination_reason=value,
            feedback_value="-1",
        )
    make_call(voice_app, voice_id="399", called_info="-12.5", termination_reason="-12.5")

    response = superuser_client.get(f"/admin/campaigns/call/export/{fmt}/")
    rows = as_dicts(csv_rows(response) if fmt == "csv" else xlsx_rows(response))

    by_voice = {row["voice_id"]: row for row in rows}
    for index, value in enumerate(DANGEROUS):
        row = by_voice[f"30{index}"]
        assert row["called_info"] == "'" + value
        assert row["termination_reason"] == "'" + value
        assert row["feedback_value"] == "-1"
    assert by_voice["399"]["called_info"] == "-12.5"
    assert by_voice["399"]["termination_reason"] == "-12.5"


# ---------------------------------------------------------------------------
# XLSX
# ---------------------------------------------------------------------------
def test_xlsx_loads_and_matches_the_csv(superuser_client, voice_app, account):
    ai_app = account.apps.get(app_id=AI_APP_ID)
    make_call(voice_app, voice_id="1001", called_info="=cmd|' /C calc'!A0", currency="EUR")
    make_call(voice_app, voice_id="1002", state=Call.State.SUBMITTED, hangup_time=None, cost=None)
    make_call(ai_app, voice_id="1003", kind=Call.Kind.GROUP, voice_file_id="1202405.mp3")

    response = superuser_client.get(XLSX_URL)

    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert ".xlsx" in response["Content-Disposition"]
    assert "attachment" in response["Content-Disposition"]
    sheet_rows = xlsx_rows(response)
    csv_export = csv_rows(superuser_client.get(CSV_URL))
    as_text = [["" if v is None else str(v) for v in row] for row in sheet_rows]
    assert as_text == csv_export
    by_voice = {row["voice_id"]: row for row in as_dicts(sheet_rows)}
    assert Decimal(str(by_voice["1001"]["cost"])) == Decimal("0.3")
    assert by_voice["1001"]["currency"] == "EUR"
    assert by_voice["1003"]["voice_file_id"] == "1202405.mp3"


def test_xlsx_has_no_formula_cells(superuser_client, voice_app):
    make_call(voice_app, voice_id="1001", called_info="=1+1", termination_reason="@SUM(A1)")

    response = superuser_client.get(XLSX_URL)

    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    cells = [cell for row in book.active.iter_rows() for cell in row]
    assert cells
    assert [c.coordinate for c in cells if c.data_type == "f"] == []


# ---------------------------------------------------------------------------
# Permissions
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("url", [CSV_URL, XLSX_URL])
def test_a_staff_user_without_view_permission_gets_403(db, voice_app, url):
    make_call(voice_app, voice_id="1001")
    user = User.objects.create_user("nobody", password="pw", is_staff=True)
    client = Client()
    client.force_login(user)

    response = client.get(url)

    assert response.status_code == 403
    assert b"919876543210" not in response.content


def test_view_permission_is_enough_to_export(db, voice_app):
    make_call(voice_app, voice_id="1001")
    user = User.objects.create_user("reader", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_call"))
    client = Client()
    client.force_login(user)

    rows = as_dicts(csv_rows(client.get(CSV_URL)))

    assert [row["voice_id"] for row in rows] == ["1001"]


def test_an_anonymous_visitor_is_sent_to_the_login_page(db, voice_app):
    make_call(voice_app, voice_id="1001")
    response = Client().get(CSV_URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_export_values_are_native_exact_and_keep_their_offset(client, voice_app):
    """Money as sent (no padding), times in ISO 8601 with their offset, numbers as numbers."""
    import io
    from datetime import UTC, datetime
    from decimal import Decimal

    from django.contrib.auth.models import User
    from openpyxl import load_workbook

    from campaigns.models import Call

    Call.objects.create(
        app=voice_app,
        kind="group",
        state="final",
        callee="919800000001",
        voice_id="NATIVE1",
        cost=Decimal("0.3"),
        rate=Decimal("1.2"),
        call_duration=37,
        hangup_time=datetime(2026, 1, 18, 6, 42, 55, tzinfo=UTC),
    )
    client.force_login(User.objects.create_superuser("x", "x@example.com", "pw"))
    text = b"".join(client.get("/admin/campaigns/call/export/csv/").streaming_content).decode()
    header, row = text.lstrip("\ufeff").splitlines()[:2]
    values = dict(zip(header.split(","), row.split(","), strict=True))
    assert (values["cost"], values["rate"]) == ("0.3", "1.2")
    assert values["hangup_time"] == "2026-01-18T06:42:55+00:00"
    raw = b"".join(client.get("/admin/campaigns/call/export/xlsx/").streaming_content)
    sheet = load_workbook(io.BytesIO(raw)).active
    cells = dict(zip([c.value for c in sheet[1]], [c.value for c in sheet[2]], strict=True))
    assert cells["call_duration"] == 37 and cells["cost"] == "0.3"
