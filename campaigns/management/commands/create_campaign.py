"""manage.py create_campaign NAME --app A (--voice-file FILE_NAME | --variant FILE:PCT …) [...]:
a draft campaign."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error, usage_error
from campaigns.models import Campaign, ItnioApp, VoiceFile
from campaigns.services.audience import (
    AudienceError,
    check_segment,
    contact_lists_named,
    parse_segment,
)
from campaigns.services.budgets import BudgetError, budget_text, parse_budget
from campaigns.services.frequency_caps import default_cap, parse_cap
from campaigns.services.itnio import itnio_limits
from campaigns.services.opt_outs import KEYS
from campaigns.services.retries import MAX_RETRIES, cap_warning, retry_summary
from campaigns.services.variants import (
    VariantError,
    check_shares,
    check_variant_files,
    parse_variant,
    set_variants,
)
from campaigns.services.windows import ALL_DAYS, WindowError, window_settings, window_text
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
        parser.add_argument("--voice-file", help=gettext_lazy("fileName of an uploaded voice file"))
        parser.add_argument(
            "--variant",
            metavar="FILE:PCT",
            action="append",
            default=[],
            help=gettext_lazy(
                "an A/B variant instead of --voice-file: a voice file and the percentage of "
                "callees who hear it (2 to 4 variants, summing to 100)"
            ),
        )
        parser.add_argument(
            "--retries",
            type=int,
            default=0,
            metavar="K",
            help=gettext_lazy("up to K more attempts (0-5) of a callee who was not reached"),
        )
        parser.add_argument(
            "--retry-after",
            type=int,
            default=60,
            metavar="MINUTES",
            help=gettext_lazy("a retry is due MINUTES after the previous attempt's hang-up"),
        )
        parser.add_argument(
            "--window",
            metavar="HH:MM-HH:MM",
            help=gettext_lazy("the daily calling window, e.g. 09:00-20:00 (may cross midnight)"),
        )
        parser.add_argument(
            "--window-zone",
            metavar="callee|ZONE",
            help=gettext_lazy(
                "read the window in each callee's local time (callee), or in one IANA zone "
                "(default UTC)"
            ),
        )
        parser.add_argument(
            "--fallback-zone",
            metavar="ZONE",
            help=gettext_lazy("for numbers whose zone is unknown (default: the portal's zone)"),
        )
        parser.add_argument(
            "--days", metavar="DAYS", help=gettext_lazy("calling days, e.g. mon-fri or mon,wed")
        )
        parser.add_argument(
            "--skip-dates",
            metavar="DATE[,DATE…]",
            default="",
            help=gettext_lazy("up to 50 dates (YYYY-MM-DD) without calls"),
        )
        parser.add_argument(
            "--rate",
            type=int,
            metavar="N",
            help=gettext_lazy("at most N numbers a minute"),
        )
        parser.add_argument("--display-num")
        parser.add_argument("--loop-count", type=int)
        parser.add_argument("--max-duration", type=int)
        parser.add_argument("--max-ringing-time", type=int)
        parser.add_argument("--called-info", default="")
        parser.add_argument(
            "--contacts",
            metavar="LIST[,LIST…]",
            default="",
            help=gettext_lazy("contact lists whose contacts become callees at launch"),
        )
        parser.add_argument(
            "--segment",
            metavar="FIELD=VALUE",
            default="",
            help=gettext_lazy("only these lists' contacts"),
        )
        parser.add_argument(
            "--cap-waits",
            action="store_true",
            help=gettext_lazy(
                "over the frequency cap, a callee waits until the cap allows it (not skipped)"
            ),
        )
        parser.add_argument(
            "--opt-out-key",
            metavar="KEY",
            default="",
            help=gettext_lazy('a key (0-9, * or #) meaning "do not call me again"'),
        )
        parser.add_argument(
            "--frequency-cap",
            metavar="K/H",
            default=None,
            help=gettext_lazy(
                "at most K calls to one number within H hours, across all campaigns, TTS and "
                "SIP calls (default: PORTAL_FREQUENCY_CAP; 'none' for no cap)"
            ),
        )

        parser.add_argument(
            "--budget",
            metavar="AMOUNT CURRENCY",
            default=None,
            help=gettext_lazy('a budget such as "6.00 EUR": never more is spent'),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        _user, label = self.acting(options)
        budget = (None, "")
        if options["budget"] is not None:
            try:
                budget = parse_budget(options["budget"])
            except BudgetError as exc:
                raise usage_error(f"--budget: {exc}") from exc
        app = ItnioApp.objects.filter(app_id=options["app"], kind=ItnioApp.Kind.VOICE).first()
        if app is None:
            raise usage_error(
                _("--app: no voice app with ITNIO app ID %(app)s") % {"app": repr(options["app"])}
            )
        variants = self._variants(app, options)
        if bool(options["voice_file"]) == bool(variants):
            raise usage_error(_("Give either --voice-file or two to four --variant options."))
        voice_file = variants[0][0] if variants else self._voice_file(app, options["voice_file"])
        if not 0 <= options["retries"] <= MAX_RETRIES:
            raise usage_error(_("--retries: 0 to 5"))
        if not 0 <= options["retry_after"] <= 10080:
            raise usage_error(_("--retry-after: 0 to 10080 minutes (one week)"))
        lists, segment = self._audience(options)
        try:
            window = window_settings(
                window=options["window"],
                zone=options["window_zone"],
                fallback=options["fallback_zone"],
                days=options["days"],
                skip=options["skip_dates"],
            )
        except WindowError as exc:
            raise usage_error(str(exc)) from exc
        if options["rate"] is not None and not 1 <= options["rate"] <= 100000:
            raise usage_error(_("--rate: 1 to 100000 numbers a minute"))
        if options["opt_out_key"] and options["opt_out_key"] not in KEYS:
            raise usage_error(_("--opt-out-key: one of 0-9, * or #"))
        try:
            given = options["frequency_cap"]
            cap = (
                default_cap()
                if given is None
                else None
                if given.strip().lower() == "none"
                else parse_cap(given)
            )
        except ValueError as exc:
            raise usage_error(f"--frequency-cap: {exc}") from exc
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
            segment_field=segment[0],
            segment_value=segment[1],
            opt_out_key=options["opt_out_key"],
            cap_waits=options["cap_waits"],
            frequency_cap_calls=cap.calls if cap else None,
            frequency_cap_hours=cap.hours if cap else None,
            retries=options["retries"],
            retry_after_minutes=options["retry_after"],
            rate_per_minute=options["rate"],
            **window,
            budget_amount=budget[0],
            budget_currency=budget[1],
        )
        try:
            campaign.full_clean()
        except ValidationError as exc:
            raise data_error("; ".join(exc.messages)) from exc
        with transaction.atomic():
            campaign.save()
            campaign.contact_lists.set(lists)
            set_variants(campaign, variants)
        self.stdout.write(
            _("Created draft campaign %(name)s (#%(id)s).")
            % {"name": campaign.name, "id": campaign.pk}
        )
        if cap:
            self.stdout.write(_("Frequency cap: %(cap)s (calls/hours).") % {"cap": cap})
        for i, (variant_file, share) in enumerate(variants):
            self.stdout.write(
                _("Variant %(label)s: %(file)s, %(share)s %% of the callees.")
                % {"label": "ABCD"[i], "file": variant_file.file_name, "share": share}
            )
        if campaign.budget_amount is not None:
            self.stdout.write(f"budget={budget_text(campaign)}")
        if campaign.retries:
            self.stdout.write(_("Retries: %(summary)s.") % {"summary": retry_summary(campaign)})
        warning = cap_warning(
            retries=campaign.retries,
            retry_after_minutes=campaign.retry_after_minutes,
            cap_calls=campaign.frequency_cap_calls,
            cap_hours=campaign.frequency_cap_hours,
        )
        if warning:
            self.stdout.write(_("Warning: %(warning)s") % {"warning": warning})
        if campaign.window_start or campaign.window_days != ALL_DAYS or campaign.skip_dates:
            self.stdout.write(_("Calling window: %(window)s.") % {"window": window_text(campaign)})
        if campaign.rate_per_minute:
            self.stdout.write(
                _("Rate: at most %(rate)s numbers a minute.") % {"rate": campaign.rate_per_minute}
            )
        if lists:
            self.stdout.write(
                _("Audience: the contact lists %(lists)s%(segment)s.")
                % {
                    "lists": ", ".join(c.name for c in lists),
                    "segment": f" ({segment[0]}={segment[1]})" if segment[0] else "",
                }
            )
        if voice_file.state != VoiceFile.State.UPLOADED:
            self.stdout.write(
                _("Note: voice file %(name)s is not uploaded to ITNIO yet.")
                % {"name": voice_file.file_name}
            )

    def _voice_file(self, app: ItnioApp, name: str) -> VoiceFile:
        voice_file = VoiceFile.objects.filter(account_id=app.account_id, file_name=name).first()
        if voice_file is None:
            raise usage_error(
                _("--voice-file: no voice file named %(name)s in this account")
                % {"name": repr(name)}
            )
        return voice_file

    def _variants(self, app: ItnioApp, options: dict[str, Any]) -> list[tuple[VoiceFile, int]]:
        """The --variant options, checked: files of the app's account, shares summing to 100."""
        if not options["variant"]:
            return []
        try:
            parsed = [parse_variant(text) for text in options["variant"]]
            check_shares([share for _name, share in parsed])
        except VariantError as exc:
            raise usage_error(f"--variant: {exc}") from exc
        files = {
            f.file_name: f
            for f in VoiceFile.objects.filter(
                account_id=app.account_id, file_name__in=[n for n, _s in parsed]
            )
        }
        missing = [name for name, _share in parsed if name not in files]
        if missing:
            raise usage_error(
                _("--variant: no voice file named %(name)s in this account")
                % {"name": repr(missing[0])}
            )
        chosen = [(files[name], share) for name, share in parsed]
        try:
            check_variant_files([f for f, _s in chosen], app.account_id)
        except VariantError as exc:
            raise usage_error(f"--variant: {exc}") from exc
        return chosen

    def _audience(self, options: dict[str, Any]) -> tuple[list[Any], tuple[str, str]]:
        """The contact lists and the segment, checked before anything is written."""
        if options["segment"] and not options["contacts"]:
            raise usage_error(_("--segment needs --contacts"))
        if not options["contacts"]:
            return [], ("", "")
        try:
            lists = contact_lists_named(options["contacts"].split(","))
            segment = parse_segment(options["segment"]) if options["segment"] else ("", "")
            check_segment(lists, segment[0])
        except AudienceError as exc:
            raise usage_error(str(exc)) from exc
        return lists, segment
