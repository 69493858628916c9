"""manage.py send_code --app A --callee N --language L --text T: place one TTS call."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error, usage_error
from campaigns.models import Call, ItnioApp
from campaigns.services.actors import Actor
from campaigns.services.calls import CallError, call_send_tts
from campaigns.services.numbers import strip_number
from itnio_portal.itnio import ItnioLimitError, SendCode


class Command(PortalCommand):
    help = gettext_lazy("Place a text-to-speech call (POST /voice/sendCode); prints the voiceId.")
    spends_money = True

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--app", required=True, help=gettext_lazy("ITNIO app ID of a voice app")
        )
        parser.add_argument(
            "--callee", required=True, help=gettext_lazy("7–15 digits with country code")
        )
        parser.add_argument(
            "--language",
            required=True,
            help=gettext_lazy("EN, VN, JP, ARB, DE, IN, IT, KR, RU, ES, PT, IDN, BD or TH"),
        )
        parser.add_argument("--text", required=True)
        parser.add_argument("--display-num")
        parser.add_argument("--loop-count", type=int)
        parser.add_argument("--called-info")
        parser.add_argument("--recall-count", type=int)
        parser.add_argument("--recall-interval", type=int)
        parser.add_argument("--max-duration", type=int)
        parser.add_argument("--max-ringing-time", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        user, label = self.acting(options)
        app = ItnioApp.objects.select_related("account").filter(app_id=options["app"]).first()
        if app is None:
            raise usage_error(
                _("--app: no app with ITNIO app ID %(app)s") % {"app": repr(options["app"])}
            )
        # The options are named after SendCode's fields (--display-num is display_num, …).
        fields = {f.name for f in dataclasses.fields(SendCode)} - {"app_id"}
        code = SendCode(app_id=app.app_id, **{name: options[name] for name in fields})
        code = dataclasses.replace(code, callee=strip_number(code.callee))
        try:
            call = call_send_tts(app=app, actor=Actor(label=label, user=user), code=code)
        except ItnioLimitError as exc:
            raise usage_error(str(exc)) from exc
        except CallError as exc:
            raise data_error(str(exc)) from exc
        if call.state == Call.State.SUBMITTED:
            self.stdout.write(call.voice_id)
            return
        raise data_error(
            _("%(state)s: %(reason)s (call #%(id)s)")
            % {"state": call.get_state_display(), "reason": call.state_reason, "id": call.pk}
        )
