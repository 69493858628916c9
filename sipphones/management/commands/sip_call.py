"""manage.py sip_call --app A --account ACCOUNT --callee N [--display-num D]: call from a phone."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error, usage_error
from campaigns.models import Call, ItnioApp
from campaigns.services.actors import Actor
from campaigns.services.calls import CallError
from campaigns.services.numbers import strip_number
from itnio_portal.itnio import ItnioLimitError
from sipphones.services import sip_call


class Command(PortalCommand):
    help = gettext_lazy(
        "Place a call from a SIP phone account (POST /voice/sendSip); prints the voiceId."
    )
    spends_money = True

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--app", required=True, help=gettext_lazy("ITNIO app ID of a voice app")
        )
        parser.add_argument(
            "--account", required=True, help=gettext_lazy("phone account, e.g. desk_001")
        )
        parser.add_argument(
            "--callee", required=True, help=gettext_lazy("7–15 digits with country code")
        )
        parser.add_argument("--display-num", help=gettext_lazy("caller ID, 7–15 digits (optional)"))

    def handle(self, *args: Any, **options: Any) -> None:
        user, label = self.acting(options)
        app = ItnioApp.objects.select_related("account").filter(app_id=options["app"]).first()
        if app is None:
            raise usage_error(
                _("--app: no app with ITNIO app ID %(app)s") % {"app": repr(options["app"])}
            )
        try:
            call = sip_call(
                app=app,
                account_name=options["account"],
                callee=strip_number(options["callee"]),
                display_num=strip_number(options["display_num"] or ""),
                actor=Actor(label=label, user=user),
            )
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
