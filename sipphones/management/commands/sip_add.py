"""manage.py sip_add --app A --group G --phone P --quantity N --display-num D: create SIP phones."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error, usage_error
from campaigns.models import ItnioApp
from campaigns.services.actors import Actor
from sipphones.forms import SipGroupForm
from sipphones.models import SipGroup
from sipphones.services import SipGroupError, sip_group_create_on_itnio


class Command(PortalCommand):
    help = gettext_lazy(
        "Create a group of SIP phones on ITNIO (POST /voice/sipAdd); prints the phone accounts "
        "(derived as PHONE_001…, ITNIO lists none). Running it again for a group whose outcome "
        "was unknown retries it: -20 (already exists) then means it was created."
    )
    spends_money = True

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--app", required=True, help=gettext_lazy("ITNIO app ID of a voice app")
        )
        parser.add_argument(
            "--group", required=True, help=gettext_lazy("group name, 4–32 characters")
        )
        parser.add_argument(
            "--phone", required=True, help=gettext_lazy("phone name, 4–32 characters")
        )
        parser.add_argument(
            "--quantity", required=True, type=int, help=gettext_lazy("number of phones, 1–50")
        )
        parser.add_argument(
            "--display-num", required=True, help=gettext_lazy("caller ID, 7–13 digits")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user, label = self.acting(options)
        app = ItnioApp.objects.filter(app_id=options["app"], kind=ItnioApp.Kind.VOICE).first()
        if app is None:
            raise usage_error(
                _("--app: no voice app with ITNIO app ID %(app)s") % {"app": repr(options["app"])}
            )
        group = self._group(app, options)
        try:
            group = sip_group_create_on_itnio(group=group, actor=Actor(label=label, user=user))
        except SipGroupError as exc:
            raise data_error(f"{group.group_name}: {exc}") from exc
        if group.state != SipGroup.State.CREATED:
            raise data_error(
                f"{group.group_name} ({group.get_state_display()}): {group.last_error}"
            )
        self.stdout.write(
            _("Created SIP group %(group)s on ITNIO (app %(app)s).")
            % {"group": group.group_name, "app": app.app_id}
        )
        for account in group.accounts:
            self.stdout.write(account)

    def _group(self, app: ItnioApp, options: dict[str, Any]) -> SipGroup:
        """The group to create: a new row, or the same group again (a retry)."""
        wanted = {
            "group_name": options["group"],
            "phone_name": options["phone"],
            "quantity": options["quantity"],
            "display_num": options["display_num"],
        }
        existing = SipGroup.objects.filter(app=app, group_name=options["group"]).first()
        # Read before validating: a ModelForm writes the new values onto its instance.
        before = {k: getattr(existing, k) for k in wanted} if existing else {}
        form = SipGroupForm({"app": app.pk, **wanted}, instance=existing)
        if not form.is_valid():
            problems = "; ".join(
                f"--{_OPTIONS.get(field, field)}: {' '.join(errors)}"
                for field, errors in form.errors.items()
            )
            raise usage_error(problems)
        if existing is None:
            return form.save()
        if existing.state == SipGroup.State.CREATED:
            raise data_error(
                _("SIP group %(group)s is already created on ITNIO.")
                % {"group": existing.group_name}
            )
        unchanged = all(form.cleaned_data[k] == before[k] for k in wanted)
        if not existing.editable and not unchanged:
            raise usage_error(
                _(
                    "SIP group %(group)s may already exist on ITNIO (outcome unknown): "
                    "retry it with the same --phone, --quantity and --display-num."
                )
                % {"group": existing.group_name}
            )
        if unchanged:
            existing.refresh_from_db()
            return existing
        edited = form.save(commit=False)
        edited.state, edited.last_error = SipGroup.State.DRAFT, ""
        edited.save()
        return edited


_OPTIONS = {
    "group_name": "group",
    "phone_name": "phone",
    "quantity": "quantity",
    "display_num": "display-num",
    "app": "app",
    "__all__": "app",
}
