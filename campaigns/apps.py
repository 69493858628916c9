"""App configs: campaigns (accounts, apps, voice files, calls, campaigns, AI tasks) and the
admin with the portal's site."""

from django.apps import AppConfig, apps
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy


class PortalAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the portal's site (navigation by task, the operations home); named
    in INSTALLED_APPS in place of django.contrib.admin."""

    default = False  # campaigns' own config stays the default of this module
    default_site = "campaigns.admin_site.PortalAdminSite"

    def ready(self) -> None:
        super().ready()
        # The third-party apps' headings in plain words, translated with the portal's catalogue.
        for label, name in THIRD_PARTY_APP_NAMES.items():
            if apps.is_installed(label) or label in apps.app_configs:
                apps.get_app_config(label).verbose_name = name
        # …and their models' (the roles' permission lists name them).
        for (label, model_name), (singular, plural) in THIRD_PARTY_MODEL_NAMES.items():
            if label in apps.app_configs:
                opts = apps.get_model(label, model_name)._meta
                opts.verbose_name, opts.verbose_name_plural = singular, plural


THIRD_PARTY_APP_NAMES = {
    "axes": gettext_lazy("Login attempts"),
    "django_tasks_database": gettext_lazy("Background task results"),
    "otp_static": gettext_lazy("Two-factor backup codes"),
    "otp_totp": gettext_lazy("Two-factor devices"),
}
THIRD_PARTY_MODEL_NAMES = {
    ("otp_static", "staticdevice"): (
        gettext_lazy("backup code set"),
        gettext_lazy("backup code sets"),
    ),
    ("otp_static", "statictoken"): (gettext_lazy("backup code"), gettext_lazy("backup codes")),
    ("otp_totp", "totpdevice"): (gettext_lazy("TOTP device"), gettext_lazy("TOTP devices")),
}


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"
    verbose_name = gettext_lazy("ITNIO voice")

    def ready(self) -> None:
        # Periodic jobs register themselves with the scheduler when their module is imported.
        from django.db.models.signals import post_migrate

        from campaigns import checks, tasks  # noqa: F401
        from campaigns.roles import sync_roles_after_migrate

        # Roles follow new models: bring the groups up to date after every migrate.
        post_migrate.connect(sync_roles_after_migrate, sender=self)
        # A user put in a role gets staff status with it (the admin is the product).
        from django.contrib.auth.models import User
        from django.db.models.signals import m2m_changed

        from campaigns.roles import staff_by_role

        m2m_changed.connect(staff_by_role, sender=User.groups.through)
        # The dirty-day triggers of the daily call figures (SQLite drops them on table rebuilds).
        from campaigns.triggers import ensure_after_migrate

        post_migrate.connect(ensure_after_migrate, sender=self)
        # The REST API's throttling counts on the shared cache: its table, when in the database.
        from campaigns.api.throttling import ensure_cache_table

        post_migrate.connect(ensure_cache_table, sender=self)
