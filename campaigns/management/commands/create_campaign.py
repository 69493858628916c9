"""manage.py create_campaign NAME --app A --voice-file FILE_NAME [...]: a draft campaign."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error, usage_error
from campaigns.models import Campaign, ItnioApp, VoiceFile
from campaigns.services.itnio import itnio_limits
from itnio_portal.itnio import ItnioLimitError


class Command(PortalCommand):
    help = gettext_lazy(
        "Create a draft campaign (nothing is sent until launch_campaign --for-real)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--app", required=True, help=gettext_lazy("ITNIO app ID of a voice app")
        )
        parser.add_argument(
            "--voice-file", required=True, help=gettext_lazy("fileName of an uploaded voice file")
        )
        parser.add_argument("--display-num")
        parser.add_argument("--loop-count", type=int)
        parser.add_argument("--max-duration", type=int)
        parser.add_argument("--max-ringing-time", type=int)
        parser.add_argument("--called-info", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        _user, label = self.acting(options)
        app = ItnioApp.objects.filter(app_id=options["app"], kind=ItnioApp.Kind.VOICE).first()
        if app is None:
            raise usage_error(
                _("--app: no voice app with ITNIO app ID %(app)s") % {"app": repr(options["app"])}
            )
        voice_file = VoiceFile.objects.filter(
            account_id=app.account_id, file_name=options["voice_file"]
        ).first()
        if voice_file is None:
            raise usage_error(
                _("--voice-file: no voice file named %(name)s in this account")
                % {"name": repr(options["voice_file"])}
            )
        limits = itnio_limits()
        try:
            if options["display_num"]:
                limits.check_display_num(options["display_num"])
            if options["loop_count"] is not None:
                limits.check_loop_count(options["loop_count"])
            if options["max_duration"] is not None:
                limits.check_max_duration(options["max_duration"])
            if options["max_ringing_time"] is not None:
                limits.check_max_ringing_time(options["max_ringing_time"])
            limits.check_called_info(options["called_info"])
        except ItnioLimitError as exc:
            raise usage_error(str(exc)) from exc
        campaign = Campaign(
            name=options["name"],
            app=app,
            voice_file=voice_file,
            display_num=options["display_num"] or "",
            loop_count=options["loop_count"],
            max_duration=options["max_duration"],
            max_ringing_time=options["max_ringing_time"],
            called_info=options["called_info"],
            created_by=label,
        )
        try:
            campaign.full_clean()
        except ValidationError as exc:
            raise data_error("; ".join(exc.messages)) from exc
        campaign.save()
        self.stdout.write(
            _("Created draft campaign %(name)s (#%(id)s).")
            % {"name": campaign.name, "id": campaign.pk}
        )
        if voice_file.state != VoiceFile.State.UPLOADED:
            self.stdout.write(
                _("Note: voice file %(name)s is not uploaded to ITNIO yet.")
                % {"name": voice_file.file_name}
            )
