"""Accounts and apps (read, and a fresh balance from ITNIO) and voice files (list, upload)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from campaigns.api.base import ApiListView, ApiView
from campaigns.api.errors import Refused
from campaigns.api.permissions import PLACE_CALLS, QUERY_ITNIO
from campaigns.api.serializers import AccountSerializer, AppSerializer, VoiceFileSerializer
from campaigns.models import ItnioAccount, ItnioApp, VoiceFile
from campaigns.services.accounts import account_verify
from campaigns.services.voice_files import VoiceFileError, voice_file_store, voice_file_upload
from itnio_portal.itnio import ItnioError, ItnioLimitError


class AccountList(ApiListView):
    """ITNIO accounts with their last known balance (no secret is ever shown)."""

    permissions = {"GET": ("campaigns.view_itnioaccount",)}
    serializer_class = AccountSerializer
    queryset = ItnioAccount.objects.all()


class AccountDetail(ApiView):
    permissions = {"GET": ("campaigns.view_itnioaccount",)}
    serializer_class = AccountSerializer

    def get(self, request: Any, pk: int) -> Response:
        account = self.object_of(ItnioAccount.objects.all(), pk)
        return Response(self.get_serializer(account).data)


class AccountBalance(ApiView):
    """Ask ITNIO for the account's balance now (GET /sms/getBalance; spends nothing)."""

    permissions = {"POST": ("campaigns.view_itnioaccount", QUERY_ITNIO)}
    serializer_class = AccountSerializer

    @extend_schema(request=None, responses=AccountSerializer)
    def post(self, request: Any, pk: int) -> Response:
        account = self.object_of(ItnioAccount.objects.all(), pk)
        account = account_verify(account=account, actor=self.actor())
        return Response(self.get_serializer(account).data)


class AppList(ApiListView):
    permissions = {"GET": ("campaigns.view_itnioapp",)}
    serializer_class = AppSerializer
    queryset = ItnioApp.objects.select_related("account")


class VoiceFileUploadInput(serializers.Serializer):
    app = serializers.CharField(max_length=64, help_text=_("ITNIO app ID of a voice app"))
    file = serializers.FileField()
    file_name = serializers.CharField(
        max_length=32, required=False, help_text=_("fileName on ITNIO (default: the file's name)")
    )


def voice_app(app_id: str) -> ItnioApp:
    app = ItnioApp.objects.filter(app_id=app_id, kind=ItnioApp.Kind.VOICE).first()
    if app is None:
        raise serializers.ValidationError(
            {"app": [_("No voice app with ITNIO app ID %(app)s.") % {"app": app_id}]}
        )
    return app


class VoiceFileList(ApiListView):
    """Voice files; POST (multipart) stores the audio and uploads it to ITNIO at once. The
    answer is the file: its state says whether ITNIO took it (uploaded, failed, unknown)."""

    permissions = {
        "GET": ("campaigns.view_voicefile",),
        "POST": ("campaigns.add_voicefile", PLACE_CALLS),
    }
    serializer_class = VoiceFileSerializer
    queryset = VoiceFile.objects.select_related("app")

    @extend_schema(
        request={"multipart/form-data": VoiceFileUploadInput}, responses={201: VoiceFileSerializer}
    )
    def post(self, request: Any) -> Response:
        given = VoiceFileUploadInput(data=request.data)
        given.is_valid(raise_exception=True)
        app = voice_app(given.validated_data["app"])
        upload = given.validated_data["file"]
        name = given.validated_data.get("file_name") or upload.name
        try:
            voice_file = voice_file_store(app=app, file_name=name, data=upload, size=upload.size)
        except (VoiceFileError, ItnioLimitError) as exc:
            raise serializers.ValidationError({"file": [str(exc)]}) from exc
        try:
            voice_file = voice_file_upload(voice_file=voice_file, actor=self.actor())
        except (ItnioError, VoiceFileError):
            voice_file.refresh_from_db()  # its state and last_error say what happened
        return Response(self.get_serializer(voice_file).data, status=status.HTTP_201_CREATED)


class VoiceFileUpload(ApiView):
    """Upload a stored voice file to ITNIO again (after a failure)."""

    permissions = {"POST": ("campaigns.change_voicefile", PLACE_CALLS)}
    serializer_class = VoiceFileSerializer

    @extend_schema(request=None, responses=VoiceFileSerializer)
    def post(self, request: Any, pk: int) -> Response:
        voice_file = self.object_of(VoiceFile.objects.all(), pk)
        try:
            voice_file = voice_file_upload(voice_file=voice_file, actor=self.actor())
        except VoiceFileError as exc:
            raise Refused(str(exc)) from exc
        except ItnioError:
            voice_file.refresh_from_db()
        return Response(self.get_serializer(voice_file).data)
