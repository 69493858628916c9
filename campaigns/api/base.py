"""What every API view shares: the acting user as a services Actor, object look-ups that
answer 404 (never a server error) for any id, and the cursor pagination."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.generics import GenericAPIView
from rest_framework.mixins import ListModelMixin
from rest_framework.pagination import CursorPagination

from campaigns.services.actors import Actor

ID_LIMIT = 2**63 - 1


class ApiCursorPagination(CursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = "-id"


class ApiView(GenericAPIView):
    """Base of the API's views: `permissions` maps each HTTP method to the admin permission
    codenames it needs (campaigns/api/permissions.py)."""

    permissions: dict[str, tuple[str, ...]] = {}
    pagination_class = ApiCursorPagination

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        # A NUL in a query value would reach PostgreSQL (which refuses it with an error):
        # refused here, for every endpoint's filters.
        if any("\x00" in k or "\x00" in v for k, vs in request.query_params.lists() for v in vs):
            raise exceptions.ParseError(_("Query parameters may not contain NUL characters."))
        super().initial(request, *args, **kwargs)

    def actor(self) -> Actor:
        return Actor.from_user(self.request.user)

    def object_of(self, queryset: QuerySet[Any], pk: Any) -> Model:
        try:
            value = int(pk)
        except (TypeError, ValueError):
            raise exceptions.NotFound() from None
        if not 0 < value <= ID_LIMIT:
            raise exceptions.NotFound()
        found = queryset.filter(pk=value).first()
        if found is None:
            raise exceptions.NotFound()
        return found


class ApiListView(ListModelMixin, ApiView):
    """A list in cursor pages (`?cursor=`, `page_size` up to 1,000), newest first."""

    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return self.list(request, *args, **kwargs)
