"""App config for sipphones: SIP phone groups (depends on campaigns, never the reverse)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class SipphonesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sipphones"
    verbose_name = gettext_lazy("SIP phones")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from campaigns.roles import sync_roles_after_migrate

        # campaigns syncs the roles after its own post_migrate, which runs before this app's
        # permissions exist (INSTALLED_APPS order): sync again once they do.
        post_migrate.connect(
            sync_roles_after_migrate, sender=self, dispatch_uid="sipphones_sync_roles"
        )
