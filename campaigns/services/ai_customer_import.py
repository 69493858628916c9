"""Importing an AI task's customers from a file (the admin's preview → confirm and the
ai_import_customers command): the file read by the one reader (tabular.py), the columns found by
their headers, each row checked (CustomerRowValidator), then written locally by
django-import-export; pushing them to ITNIO is ai_customers.py."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import tablib
from django.conf import settings
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets

from campaigns.models import AiCustomer, AiTask
from campaigns.services.numbers import strip_number
from campaigns.services.tabular import RowReader, open_table
from campaigns.services.tabular_guards import FileLimits, ImportFileError, check_in_memory


# ---------------------------------------------------------------------------
# Importing customers from a file (the admin preview and the CLI share this)
# ---------------------------------------------------------------------------
def _key(header: object) -> str:
    return "".join(ch for ch in str(header or "").casefold() if ch.isalnum())


#: Header variants (case, spaces, _ and - ignored).
NAME_HEADERS = ("name", "customername", "customer", "fullname")
PHONE_HEADERS = ("phone", "phonenumber", "mobile", "number")
GENDER_HEADERS = ("gender", "sex")
COLUMNS = ("row", "name", "phone_number", "gender", "properties")


class CustomerFileError(Exception):
    """The file cannot be read as a customer list; the message says why."""


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # XLSX numbers (a phone number typed as a number)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value).strip()


def _customer_limits() -> FileLimits:
    """The file reader's limits, with the AI import's own row cap: the list is held in memory."""
    return FileLimits.current().capped_rows(
        settings.AI_CUSTOMER_IMPORT_MAX_ROWS, "AI_CUSTOMER_IMPORT_MAX_ROWS"
    )


def read_customer_file(data: bytes, file_name: str = "") -> tablib.Dataset:
    """A CSV (comma, semicolon or tab; UTF-8, UTF-16 or Windows-1252) or XLSX (first sheet)
    customer list, read by the file reader (tabular.py, with its guards), as a dataset with the
    columns COLUMNS: name, phone number (headers phone, phoneNumber, phone_number, mobile,
    number), gender, and every other column in properties. Rows are numbered as in the file."""
    try:
        check_in_memory(len(data))
        with open_table(io.BytesIO(data), file_name, limits=_customer_limits()) as reader:
            return _customer_dataset(reader)
    except ImportFileError as exc:
        raise CustomerFileError(str(exc)) from exc


def _customer_dataset(reader: RowReader) -> tablib.Dataset:
    headers = [_cell(h) for h in reader.columns]
    keys = [_key(h) for h in headers]

    def find(options: tuple[str, ...]) -> int | None:
        for option in options:
            if option in keys:
                return keys.index(option)
        return None

    phone_at, name_at, gender_at = find(PHONE_HEADERS), find(NAME_HEADERS), find(GENDER_HEADERS)
    found = ", ".join(repr(h) for h in headers if h) or _("none")
    if phone_at is None:
        raise CustomerFileError(
            _(
                "No phone number column (phone, phoneNumber, phone_number, mobile or number); "
                "the columns found are %(found)s."
            )
            % {"found": found}
        )
    if name_at is None:
        raise CustomerFileError(
            _("No name column (name or customer name); found %(found)s.") % {"found": found}
        )
    extra = [
        (i, h)
        for i, h in enumerate(headers)
        if i not in (phone_at, name_at, gender_at) and h and not h.startswith("Unnamed")
    ]
    dataset = tablib.Dataset(headers=list(COLUMNS))
    for number, raw in reader:
        cells = [_cell(v) for v in raw] + [""] * (len(headers) - len(raw))
        if not any(cells):
            continue
        properties = {h: cells[i] for i, h in extra if i < len(cells)}
        dataset.append(
            (
                number,
                cells[name_at],
                cells[phone_at],
                cells[gender_at] if gender_at is not None else "",
                properties,
            )
        )
    if not dataset:
        raise CustomerFileError(_("The file has a header row but no customers below it."))
    return dataset


def clean_phone(raw: str) -> str | None:
    """Digits of a phone number (separators and a leading + or 00 dropped, by the one
    normaliser's rule); an ID without whitespace (ITNIO's "encryption scenarios", §5.5) is
    kept as it is. None when unusable."""
    text = raw.strip()
    if not text:
        return None
    digits = strip_number(text)
    if digits.isascii() and digits.isdigit():
        return digits
    if any(ch.isspace() for ch in text):
        return None
    return text


def clean_gender(raw: str) -> str:
    """MALE or FEMALE (any case); anything else is unknown ("" here, JSON null at ITNIO)."""
    value = raw.strip().upper()
    return value if value in AiCustomer.Gender.values else ""


RE_IMPORTABLE = (
    AiCustomer.State.LOCAL,
    AiCustomer.State.REJECTED,
    AiCustomer.State.REMOVED,
    AiCustomer.State.SKIPPED,
)


class CustomerRowValidator:
    """Decides each row: (values, "") when valid, (None, reason) when skipped. Shared by the
    admin's import preview and ai_import_customers."""

    def __init__(self, task: AiTask) -> None:
        self.task = task
        self.max_phone = 32  # §5.5
        self.seen: dict[str, int] = {}
        self.existing = dict(
            AiCustomer.objects.filter(task=task).values_list("phone_number", "state")
        )

    def check(self, row: int, name: str, phone: str) -> tuple[str | None, str]:
        name = name.strip()
        number = clean_phone(phone)
        if number is None:
            if not phone.strip():
                return None, _("no phone number")
            return None, _("not a phone number: %(phone)s") % {"phone": phone}
        if len(number) > self.max_phone:
            return None, _("the phone number is longer than %(max)s characters") % {
                "max": self.max_phone
            }
        if not name:
            return None, _("no name (ITNIO requires a name for every customer)")
        if len(name) > 100:
            return None, _("the name is longer than 100 characters")
        if number in self.seen:
            return None, _("duplicate of row %(row)s") % {"row": self.seen[number]}
        self.seen[number] = row
        state = self.existing.get(number)
        if state is not None and state not in RE_IMPORTABLE:
            return None, _("already pushed to ITNIO for this task")
        return number, ""


class _PropertiesWidget(widgets.Widget):
    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> dict[str, Any]:
        return dict(value) if isinstance(value, dict) else {}

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return ", ".join(f"{k}={v}" for k, v in (value or {}).items())


class AiCustomerResource(resources.ModelResource):
    """django-import-export's row loop over read_customer_file's dataset: new numbers are added,
    numbers not pushed yet are updated, the rest is skipped with a reason."""

    row_number = fields.Field(
        attribute="row_number", column_name="row", widget=widgets.IntegerWidget()
    )
    name = fields.Field(attribute="name", column_name="name")
    phone_number = fields.Field(attribute="phone_number", column_name="phone_number")
    gender = fields.Field(attribute="gender", column_name="gender")
    properties = fields.Field(
        attribute="properties", column_name="properties", widget=_PropertiesWidget()
    )

    class Meta:
        model = AiCustomer
        fields = ("row_number", "name", "phone_number", "gender", "properties")
        import_id_fields = ("phone_number",)
        skip_diff = True
        store_instance = True
        report_skipped = True

    def __init__(self, task: AiTask | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task = task
        self.validator: CustomerRowValidator | None = None
        self.skipped: list[tuple[int, str, str, str]] = []  # row, name, phone, reason
        self._reason = ""

    @classmethod
    def get_display_name(cls) -> str:
        return _("AI customers")

    def get_queryset(self) -> Any:
        return AiCustomer.objects.filter(task=self.task)

    def before_import(self, dataset: tablib.Dataset, **kwargs: Any) -> None:
        if self.task is None:
            raise CustomerFileError(_("Choose the AI task to import into."))
        self.validator = CustomerRowValidator(self.task)

    def before_import_row(self, row: Any, **kwargs: Any) -> None:
        assert self.validator is not None
        number, reason = self.validator.check(
            int(row["row"]), str(row["name"] or ""), str(row["phone_number"] or "")
        )
        self._reason = reason
        if number is not None:
            row["phone_number"] = number
            row["name"] = str(row["name"]).strip()
            row["gender"] = clean_gender(str(row["gender"] or ""))

    def skip_row(self, instance: Any, original: Any, row: Any, import_validation_errors=None):
        if self._reason:
            self.skipped.append(
                (
                    int(row["row"]),
                    str(row["name"] or ""),
                    str(row["phone_number"] or ""),
                    self._reason,
                )
            )
            return True
        return False

    def init_instance(self, row: Any = None) -> AiCustomer:
        return AiCustomer(task=self.task)

    def before_save_instance(self, instance: AiCustomer, row: Any, **kwargs: Any) -> None:
        instance.task = self.task
        instance.state = AiCustomer.State.LOCAL
        instance.reason = ""

    def after_import(self, dataset: tablib.Dataset, result: Any, **kwargs: Any) -> None:
        result.ai_task = self.task
        result.ai_rows = len(dataset)
        result.ai_skipped = self.skipped
        result.ai_valid = [
            (
                r.instance.row_number,
                r.instance.name,
                r.instance.phone_number,
                r.instance.gender,
                r.instance.properties,
                r.import_type,
            )
            for r in result.rows
            if r.import_type in (r.IMPORT_TYPE_NEW, r.IMPORT_TYPE_UPDATE) and r.instance
        ]


@dataclass
class ImportSummary:
    rows: int
    new: int
    updated: int
    skipped: list[tuple[int, str, str, str]]

    def __str__(self) -> str:
        return _("%(rows)s row(s): %(new)s new, %(updated)s updated, %(skipped)s skipped.") % {
            "rows": self.rows,
            "new": self.new,
            "updated": self.updated,
            "skipped": len(self.skipped),
        }


def ai_customers_import(
    *, task: AiTask, data: bytes, file_name: str, dry_run: bool = False
) -> ImportSummary:
    """Import a customer file into the task (locally: push them with ai_customers_push)."""
    dataset = read_customer_file(data, file_name)
    resource = AiCustomerResource(task=task)
    result = resource.import_data(dataset, dry_run=dry_run, raise_errors=True)
    new = result.totals.get("new", 0)
    updated = result.totals.get("update", 0)
    return ImportSummary(len(dataset), new, updated, list(result.ai_skipped))
