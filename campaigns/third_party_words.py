"""Words of the third-party admin pages the portal shows Admins (django-axes' login records,
django-tasks-db's task results) and staff (django-two-factor-auth's forms), marked here so the
portal's own zh_Hans catalogue translates them: none of these packages ships Simplified Chinese
(two-factor's zh_CN is not read for zh-hans), and the catalogue in LOCALE_PATHS is looked up
first. Never imported; makemessages reads it."""

from django.utils.translation import gettext_noop, pgettext_lazy

THIRD_PARTY_WORDS = [
    gettext_noop("User Agent"),
    gettext_noop("IP Address"),
    gettext_noop("Username"),
    gettext_noop("HTTP Accept"),
    gettext_noop("Path"),
    gettext_noop("Attempt Time"),
    gettext_noop("Access lock out"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("GET Data"),
    gettext_noop("POST Data"),
    gettext_noop("Failed Logins"),
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("Access Attempt"),
    gettext_noop("Expires At"),
    gettext_noop("The time when access attempt expires and is no longer valid."),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
    gettext_noop("Logout Time"),
    gettext_noop("Session key hash (sha256)"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
    gettext_noop("Locked Out"),
    gettext_noop("Yes"),
    gettext_noop("No"),
    gettext_noop("Form Data"),
    gettext_noop("Meta Data"),
    gettext_noop("Clean up expired attempts"),
    gettext_noop("Cleaned up {count} expired access attempts."),
    gettext_noop("Not set"),
    gettext_noop("Attempt Remaining"),
    gettext_noop("status"),
    gettext_noop("enqueued at"),
    gettext_noop("started at"),
    gettext_noop("finished at"),
    gettext_noop("args kwargs"),
    gettext_noop("priority"),
    gettext_noop("task path"),
    gettext_noop("worker id"),
    gettext_noop("queue name"),
    gettext_noop("backend name"),
    gettext_noop("run after"),
    gettext_noop("return value"),
    gettext_noop("exception class path"),
    gettext_noop("traceback"),
    gettext_noop("Task Result"),
    gettext_noop("Task Results"),
    # Django's own words its zh_Hans catalogue does not have yet.
    gettext_noop(
        "Whether the user will be able to authenticate using a password or not. "
        "If disabled, they may still be able to authenticate using other backends, "
        "such as Single Sign-On or LDAP."
    ),
    gettext_noop("After you’ve created a user, you’ll be able to edit more user options."),
    # The title of a page whose form has errors (the login with a wrong code, say).
    gettext_noop("Error:"),
    # django-two-factor-auth's form words on its pages (it ships zh_CN, which zh-hans does not
    # read): the setup step's code field and its error, the "turn off" confirmation.
    gettext_noop("Token"),
    gettext_noop("Entered token is not valid."),
    gettext_noop("Yes, I am sure"),
    # django-tasks' task states (the task results list's filter).
    pgettext_lazy("Task", "Ready"),
    pgettext_lazy("Task", "Running"),
    pgettext_lazy("Task", "Failed"),
    pgettext_lazy("Task", "Successful"),
]
