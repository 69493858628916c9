"""manage.py send_code --app A --callee N --language L --text T: place one TTS call."""

from __future__ import annotations

from typing import Any

from campaigns.management.base import PortalCommand, data_error, usage_error
from campaigns.models import Call, ItnioApp
from campaigns.services.actors import Actor
from campaigns.services.calls import CallError, call_send_tts
from itnio_portal.itnio import ItnioLimitError


class Command(PortalCommand):
    help = "Place a text-to-speech call (POST /voice/sendCode); prints the voiceId."
    spends_money = True

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--app", required=True, help="ITNIO app ID of a voice app")
        parser.add_argument("--callee", required=True, help="7–15 digits with country code")
        parser.add_argument(
            "--language",
            required=True,
            help="EN, VN, JP, ARB, DE, IN, IT, KR, RU, ES, PT, IDN, BD or TH",
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
            raise usage_error(f"--app: no app with ITNIO app ID {options['app']!r}")
        try:
            call = call_send_tts(
                app=app,
                actor=Actor(label=label, user=user),
                callee=options["callee"].removeprefix("+"),
                language=options["language"],
                text=options["text"],
                display_num=options["display_num"],
                loop_count=options["loop_count"],
                called_info=options["called_info"],
                recall_count=options["recall_count"],
                recall_interval=options["recall_interval"],
                max_duration=options["max_duration"],
                max_ringing_time=options["max_ringing_time"],
            )
        except ItnioLimitError as exc:
            raise usage_error(str(exc)) from exc
        except CallError as exc:
            raise data_error(str(exc)) from exc
        if call.state == Call.State.SUBMITTED:
            self.stdout.write(call.voice_id)
            return
        raise data_error(f"{call.get_state_display()}: {call.state_reason} (call #{call.pk})")
