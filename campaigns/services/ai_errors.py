"""The English for an /aivoice error: ITNIO's code, its meaning, what to do about it (seed 000's
table, itnio-api.md §5) and the vendor's own reason; and AiTaskError, which every AI operation
raises with such a sentence."""

from __future__ import annotations

from django.utils.translation import gettext, gettext_noop

from itnio_portal.itnio import AIVOICE_CODES, ItnioApiError, ItnioError
from itnio_portal.itnio.errors import UNKNOWN_CODE_MESSAGE

# What to do about each /aivoice code (seed 000's table, itnio-api.md §5), shown after the
# English meaning from errors.AIVOICE_CODES and before the vendor's own reason. Marked for the
# catalogue here (the values stay plain English) and translated where the message is built.
AI_CODE_ADVICE: dict[str, str] = {
    "-1": gettext_noop("Check the ITNIO account's API key and secret."),
    "-3": gettext_noop("Top up the ITNIO account, then try again."),
    "-4": gettext_noop("The portal server's clock is off: fix it (NTP), then try again."),
    "-5": gettext_noop("Try again later."),
    "-6": gettext_noop("Allow the portal's IP address in ITNIO's console, then try again."),
    "-27": gettext_noop(
        "Check the task's settings (times as HH:mm, the line, the lists) or the customer rows, "
        "then try again."
    ),
    "-32": gettext_noop(
        "ITNIO does not know this job ID: press “Sync from ITNIO”; the task may have been "
        "deleted in ITNIO's console."
    ),
    "-33": gettext_noop("Choose another name: task names must be unique within the app at ITNIO."),
    "-37": gettext_noop("The app must be an AI voice app of this ITNIO account: check its app ID."),
    "-38": gettext_noop(
        "ITNIO's API cannot pause a task: pause or resume the task in ITNIO's console."
    ),
    "-39": gettext_noop(
        "The task is probably running or finished already: press “Sync from ITNIO” to see its "
        "status."
    ),
    "-45": gettext_noop(
        "Import customers and press “Push customers to ITNIO” first, then start the task."
    ),
    "-46": gettext_noop(
        "Check the task's settings and try again; if it persists, ITNIO has a network problem."
    ),
    "-48": gettext_noop("Set the daily window inside 09:00–20:00, save, then try again."),
    "-49": gettext_noop("Verify the ITNIO account in ITNIO's console first."),
    "-50": gettext_noop("Ask ITNIO to set up pricing (a quote) for this app."),
    "-51": gettext_noop(
        "Every customer needs the properties the script's variables use: add those columns to "
        "the file and import it again."
    ),
    "-52": gettext_noop(
        "Lower the number of robots (or ask ITNIO to raise the account's maximum), save, then "
        "try again."
    ),
    "-55": gettext_noop(
        "The script is unbound: bind it to the app again in ITNIO's console, or use another "
        "script ID."
    ),
    "-57": gettext_noop(
        "The portal sent an empty authentication header: this is a portal bug, report it."
    ),
    "-58": gettext_noop(
        "The portal sent an empty authentication header: this is a portal bug, report it."
    ),
    "-59": gettext_noop(
        "The portal sent an empty authentication header: this is a portal bug, report it."
    ),
}


class AiTaskError(Exception):
    """An AI task operation cannot be done (now); the message says why and what to do."""


def ai_error_message(exc: ItnioError) -> str:
    """An English sentence for any ITNIO error of an /aivoice call, with the vendor's reason."""
    if not isinstance(exc, ItnioApiError):
        return str(exc)
    # ITNIO's table's English; gettext finds its translation once the table is in the catalogue.
    meaning = str(AIVOICE_CODES.get(exc.code, (None, UNKNOWN_CODE_MESSAGE))[1] or "")
    meaning = gettext(meaning) if meaning else ""
    advice = AI_CODE_ADVICE.get(exc.code, "")
    advice = gettext(advice) if advice else ""
    reason = (
        gettext("“%(reason)s”") % {"reason": exc.reason}
        if exc.reason
        else gettext("no reason given")
    )
    code = gettext("(ITNIO code %(code)s: %(reason)s)") % {"code": exc.code, "reason": reason}
    return " ".join(p for p in (meaning, advice, code) if p)
