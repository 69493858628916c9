"""App config for campaigns: accounts, apps, voice files, calls, campaigns, AI tasks."""

from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"
    verbose_name = "ITNIO voice"

    def ready(self) -> None:
        # Periodic jobs register themselves with the scheduler when their module is imported.
        from campaigns import tasks  # noqa: F401
