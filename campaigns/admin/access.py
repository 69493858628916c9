"""Least privilege in the admin: what each custom view needs, declared beside it; list lookups
limited to the filters the list offers; secrets never filterable, sortable or searchable.

A custom admin view says what it needs with `@requires("place_calls")`, naming ModelAdmin
`has_<name>_permission(request)` checks the way list actions name theirs in
`@admin.action(permissions=[...])`. The declaration is also what the permission-matrix test
(tests/test_permission_matrix.py) reads, so a new page is covered without anyone listing it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.admin import SimpleListFilter
from django.contrib.admin.exceptions import DisallowedModelAdminLookup
from django.contrib.admin.filters import FieldListFilter
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.core import checks
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils.translation import gettext as _

from campaigns.fields import SecretField

# A field whose name holds one of these is a secret, whatever later work names it.
SECRET_WORDS = ("secret", "token", "password")


def is_secret(field: Any) -> bool:
    name = getattr(field, "name", "") or ""
    return isinstance(field, SecretField) or any(word in name.lower() for word in SECRET_WORDS)


@dataclass(frozen=True)
class Access:
    """What a custom admin view needs: has_<name>_permission checks, and its HTTP methods."""

    permissions: tuple[str, ...]
    methods: tuple[str, ...]


def requires(*permissions: str, methods: Iterable[str] = ("GET", "POST")) -> Callable:
    """Declare and enforce what a custom ModelAdmin view needs.

    Refused: 403 (the portal's "Not allowed" page). Allowed but another method: 405."""
    if not permissions:
        raise ValueError('name at least one permission ("view" for a read-only page)')
    access = Access(tuple(permissions), tuple(m.upper() for m in methods))

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def checked(model_admin: Any, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if not model_admin.has_permissions(request, access.permissions):
                raise PermissionDenied
            if request.method not in access.methods:
                return HttpResponseNotAllowed(access.methods)
            return view(model_admin, request, *args, **kwargs)

        checked.portal_access = access  # type: ignore[attr-defined]
        return checked

    return decorate


def _field_path(model: type[models.Model], path: str) -> list[Any]:
    try:
        return list(get_fields_from_path(model, path))
    except (FieldDoesNotExist, NotRelationField):  # a display callable, not a field
        return []


class LeastPrivilegeMixin:
    """Shared by every ModelAdmin of the portal (PortalModelAdmin, the user and group admins)."""

    # --- permissions ------------------------------------------------------------------------
    def has_permissions(self, request: HttpRequest, names: Iterable[str]) -> bool:
        return all(getattr(self, f"has_{name}_permission")(request) for name in names)

    def has_query_itnio_permission(self, request: HttpRequest) -> bool:
        """Requests to ITNIO that spend nothing (verify, sync, refresh): not for read-only roles."""
        return request.user.has_perm("campaigns.query_itnio")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # An action this user is not offered is refused outright (Django would only say "No
        # action selected"), so a forged POST is a 403 like any other refused request.
        if request.method == "POST" and "index" in request.POST and "action" in request.POST:
            names = request.POST.getlist("action")
            try:
                name = names[int(request.POST.get("index", 0))]
            except (IndexError, ValueError):
                name = names[0]
            if name and name not in self.get_actions(request):  # type: ignore[attr-defined]
                raise PermissionDenied
        return super().changelist_view(request, extra_context)  # type: ignore[misc]

    # --- list lookups -----------------------------------------------------------------------
    def lookup_allowed(self, lookup: str, value: Any, request: HttpRequest | None = None) -> bool:
        """Only the parameters of the list's own filters and date drill-down: a query string
        cannot filter by any other field (which would make the list an oracle for secrets)."""
        return lookup in self.list_filter_parameters(request)

    def list_filter_parameters(self, request: HttpRequest | None) -> frozenset[str]:
        list_filter = tuple(
            self.get_list_filter(request) if request is not None else self.list_filter  # type: ignore[attr-defined]
        )
        cache = self.__dict__.setdefault("_filter_parameters", {})
        if list_filter not in cache:
            cache[list_filter] = self._compute_filter_parameters(request, list_filter)
        return cache[list_filter]

    def _compute_filter_parameters(
        self, request: HttpRequest | None, list_filter: tuple[Any, ...]
    ) -> frozenset[str]:
        model = self.model  # type: ignore[attr-defined]
        names: set[str] = set()
        for item in list_filter:
            if isinstance(item, type) and issubclass(item, SimpleListFilter):
                names.add(item.parameter_name)
                continue
            path, filter_class = (item, FieldListFilter.create)
            if isinstance(item, (list, tuple)):
                path, filter_class = item
            field = get_fields_from_path(model, path)[-1]
            spec = filter_class(field, request, {}, model, self, field_path=path)
            names.update(spec.expected_parameters())
        hierarchy = self.date_hierarchy  # type: ignore[attr-defined]
        if hierarchy:
            names.update(f"{hierarchy}__{part}" for part in ("year", "month", "day"))
        return frozenset(names)

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        try:
            return super().get_changelist_instance(request)  # type: ignore[misc]
        except DisallowedModelAdminLookup as exc:
            # What the list does with a bad filter: back to the whole list, saying why.
            messages.warning(
                request,
                _("This list cannot be filtered that way (%(filter)s); the whole list is shown.")
                % {"filter": str(exc).removeprefix("Filtering by ").removesuffix(" not allowed")},
            )
            raise IncorrectLookupParameters(str(exc)) from exc

    # --- checks -----------------------------------------------------------------------------
    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        return [*super().check(**kwargs), *self._secret_exposure_errors()]  # type: ignore[misc]

    def _secret_exposure_errors(self) -> list[checks.CheckMessage]:
        """A secret named in a filter, a search, the date drill-down or a sortable column."""
        model = self.model  # type: ignore[attr-defined]
        named: list[tuple[str, str]] = []
        for item in self.list_filter:  # type: ignore[attr-defined]
            if isinstance(item, str):
                named.append(("list_filter", item))
            elif isinstance(item, (list, tuple)):
                named.append(("list_filter", item[0]))
        named += [("search_fields", f.lstrip("^=@")) for f in self.search_fields]  # type: ignore[attr-defined]
        if self.date_hierarchy:  # type: ignore[attr-defined]
            named.append(("date_hierarchy", self.date_hierarchy))  # type: ignore[attr-defined]
        for column in self.list_display:  # type: ignore[attr-defined]
            attr = column if callable(column) else getattr(self, str(column), None)
            order = getattr(attr, "admin_order_field", None) if attr is not None else column
            if isinstance(order, str):
                named.append(("list_display", order.lstrip("-")))
        named += [("ordering", o.lstrip("-")) for o in self.ordering or [] if isinstance(o, str)]  # type: ignore[attr-defined]
        errors = []
        for option, path in named:
            fields = _field_path(model, path)
            if any(is_secret(f) for f in fields):
                errors.append(
                    checks.Error(
                        f"{option} names {path!r}, a secret: secrets are never filterable, "
                        "searchable or sortable.",
                        obj=self.__class__,
                        id="portal.E001",
                    )
                )
        return errors
