"""Contact lists (create, import a file, the import's status) and do-not-call entries (add,
remove, list), through the admin's and the commands' services."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from campaigns.api.base import ApiListView, ApiView
from campaigns.api.serializers import (
    ContactImportSerializer,
    ContactListSerializer,
    SuppressionEntrySerializer,
)
from campaigns.models import ContactImport, ContactList, SuppressionEntry
from campaigns.services.audience import AudienceError, contact_list_create
from campaigns.services.contact_imports import contact_import_start
from campaigns.services.numbers import check_region, strip_number
from campaigns.services.suppression import SuppressionError, dnc_add, dnc_remove
from campaigns.services.tabular_guards import ImportFileError

MAX_NUMBERS = 10_000


def printable(name: str) -> str:
    """An uploaded file's name without control characters (NUL included), as it is stored."""
    return "".join(ch for ch in name or "" if ch.isprintable())[:255] or "contacts.csv"


class ContactListInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class ContactLists(ApiListView):
    permissions = {
        "GET": ("campaigns.view_contactlist",),
        "POST": ("campaigns.add_contactlist",),
    }
    serializer_class = ContactListSerializer
    queryset = ContactList.objects.all()

    @extend_schema(request=ContactListInput, responses={201: ContactListSerializer})
    def post(self, request: Any) -> Response:
        given = ContactListInput(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            found = contact_list_create(name=given.validated_data["name"], actor=self.actor())
        except AudienceError as exc:
            raise serializers.ValidationError({"name": [str(exc)]}) from exc
        return Response(self.get_serializer(found).data, status=status.HTTP_201_CREATED)


class ContactListDetail(ApiView):
    permissions = {"GET": ("campaigns.view_contactlist",)}
    serializer_class = ContactListSerializer

    def get(self, request: Any, pk: int) -> Response:
        return Response(self.get_serializer(self.object_of(ContactList.objects.all(), pk)).data)


class ContactImportInput(serializers.Serializer):
    file = serializers.FileField(help_text=_("CSV, TSV, TXT or XLSX with a number column"))
    default_region = serializers.CharField(
        max_length=2,
        required=False,
        allow_blank=True,
        help_text=_("ISO country whose national numbers the file may hold (e.g. SG)"),
    )


class ContactListImports(ApiListView):
    """POST (multipart): store the file and import it into the list in the background; poll
    the import's status at /contact-imports/{id}/."""

    permissions = {
        "GET": ("campaigns.view_contactimport",),
        "POST": ("campaigns.add_contact",),
    }
    serializer_class = ContactImportSerializer

    def get_queryset(self) -> Any:
        found = self.object_of(ContactList.objects.all(), self.kwargs["pk"])
        return ContactImport.objects.filter(contact_list=found).select_related("contact_list")

    @extend_schema(
        request={"multipart/form-data": ContactImportInput},
        responses={202: ContactImportSerializer},
    )
    def post(self, request: Any, pk: int) -> Response:
        found = self.object_of(ContactList.objects.all(), pk)
        given = ContactImportInput(data=request.data)
        given.is_valid(raise_exception=True)
        region = given.validated_data.get("default_region") or ""
        if region:
            try:
                region = check_region(region)
            except ValueError as exc:
                raise serializers.ValidationError({"default_region": [str(exc)]}) from exc
        upload = given.validated_data["file"]
        try:
            record = contact_import_start(
                list_name=found.name,
                upload=upload,
                name=printable(upload.name),
                actor=self.actor(),
                default_region=region,
            )
        except ImportFileError as exc:
            raise serializers.ValidationError({"file": [str(exc)]}) from exc
        return Response(self.get_serializer(record).data, status=status.HTTP_202_ACCEPTED)


class ContactImportDetail(ApiView):
    permissions = {"GET": ("campaigns.view_contactimport",)}
    serializer_class = ContactImportSerializer

    def get(self, request: Any, pk: int) -> Response:
        found = self.object_of(ContactImport.objects.select_related("contact_list"), pk)
        return Response(self.get_serializer(found).data)


class DncInput(serializers.Serializer):
    numbers = serializers.ListField(
        child=serializers.CharField(max_length=40), min_length=1, max_length=MAX_NUMBERS
    )
    list = serializers.CharField(
        max_length=100, required=False, help_text=_("default: the portal-wide list")
    )


class DncAddInput(DncInput):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


DncAddResult = inline_serializer(
    "DncAddResult", {"added": serializers.IntegerField(), "updated": serializers.IntegerField()}
)
DncRemoveResult = inline_serializer("DncRemoveResult", {"removed": serializers.IntegerField()})


class DncEntries(ApiListView):
    """Do-not-call entries; POST puts numbers on a list (every number checked first: one bad
    number and nothing is written)."""

    permissions = {
        "GET": ("campaigns.view_suppressionentry",),
        "POST": ("campaigns.add_suppressionentry",),
    }
    serializer_class = SuppressionEntrySerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("list", str, description="the list's name"),
            OpenApiParameter("number", str, description="one number (any spelling)"),
        ]
    )
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return self.list(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        request = self.request
        entries = SuppressionEntry.objects.select_related("suppression_list")
        name = request.query_params.get("list")
        if name:
            entries = entries.filter(suppression_list__name=name[:100])
        number = request.query_params.get("number")
        if number:
            entries = entries.filter(number=strip_number(number[:40]) or number[:40])
        return entries

    @extend_schema(request=DncAddInput, responses={201: DncAddResult})
    def post(self, request: Any) -> Response:
        given = DncAddInput(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            result = dnc_add(
                numbers=data["numbers"],
                actor=self.actor(),
                list_name=data.get("list"),
                reason=data.get("reason") or "",
                expires_at=data.get("expires_at"),
            )
        except SuppressionError as exc:
            raise serializers.ValidationError({"numbers": [str(exc)]}) from exc
        return Response(
            {"added": result.added, "updated": result.updated}, status=status.HTTP_201_CREATED
        )


class DncRemove(ApiView):
    """Take numbers off a do-not-call list (Admins: the admin's delete permission)."""

    permissions = {"POST": ("campaigns.delete_suppressionentry",)}
    serializer_class = DncInput

    @extend_schema(request=DncInput, responses=DncRemoveResult)
    def post(self, request: Any) -> Response:
        given = DncInput(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            removed = dnc_remove(
                numbers=given.validated_data["numbers"],
                actor=self.actor(),
                list_name=given.validated_data.get("list"),
            )
        except SuppressionError as exc:
            raise serializers.ValidationError({"numbers": [str(exc)]}) from exc
        return Response({"removed": removed})
