"""AI tasks: list, detail, start on ITNIO (services/ai_tasks.py), and their call records."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from campaigns.api.base import ApiListView, ApiView
from campaigns.api.errors import Conflict
from campaigns.api.permissions import PLACE_CALLS
from campaigns.api.serializers import AiCallRecordSerializer, AiTaskSerializer
from campaigns.models import AiCallRecord, AiTask
from campaigns.services.ai_errors import AiTaskError
from campaigns.services.ai_tasks import ai_task_start

TASKS = AiTask.objects.select_related("app")


class AiTasks(ApiListView):
    permissions = {"GET": ("campaigns.view_aitask",)}
    serializer_class = AiTaskSerializer
    queryset = TASKS


class AiTaskDetail(ApiView):
    permissions = {"GET": ("campaigns.view_aitask",)}
    serializer_class = AiTaskSerializer

    def get(self, request: Any, pk: int) -> Response:
        return Response(self.get_serializer(self.object_of(TASKS.all(), pk)).data)


class AiTaskStart(ApiView):
    """Start the task on ITNIO: its customers start being called (this spends money)."""

    permissions = {"POST": (PLACE_CALLS,)}
    serializer_class = AiTaskSerializer

    @extend_schema(request=None, responses=AiTaskSerializer)
    def post(self, request: Any, pk: int) -> Response:
        task = self.object_of(TASKS.all(), pk)
        try:
            task = ai_task_start(task=task, actor=self.actor())
        except AiTaskError as exc:
            raise Conflict(str(exc)) from exc
        return Response(self.get_serializer(task).data)


class AiTaskRecords(ApiListView):
    permissions = {"GET": ("campaigns.view_aicallrecord",)}
    serializer_class = AiCallRecordSerializer

    def get_queryset(self) -> Any:
        task = self.object_of(TASKS.all(), self.kwargs["pk"])
        return AiCallRecord.objects.filter(task=task)
