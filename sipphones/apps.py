"""App config for sipphones: SIP phone groups (depends on campaigns, never the reverse)."""

from django.apps import AppConfig


class SipphonesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sipphones"
    verbose_name = "SIP phones"
