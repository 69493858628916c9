"""The three roles (Viewer, Operator, Admin) as permission rules.

Viewer sees and never triggers (not even a request to ITNIO that spends nothing); Operator
places calls and asks ITNIO for records; Admin also manages credentials, push URLs and users
(Viewers, Operators and Admins: only a superuser grants superuser status or edits a superuser).

Rules rather than lists, so models added by later work join the right role: the roles are
created by a data migration and brought up to date after every migrate (post_migrate).
"""

from __future__ import annotations

from typing import Any

ROLE_APPS = ("campaigns", "sipphones")

#: Internal tables (the background machinery's bookkeeping and the erasure register): Admins
#: only. Viewers and Operators get no permission on them, so neither the pages nor the
#: navigation show them. (The task results, not the portal's admin, stay with superusers: their
#: list does not limit its lookups, tests/test_admin_lookups.py.)
INTERNAL_MODELS = {
    "heartbeat",
    "scheduledjobrun",
    "erasednumber",
    "apiidempotencykey",
    # Outbound webhooks send the portal's data to any URL with a signing secret: Admins only.
    "webhooksubscription",
    "webhookmessage",
    "webhookdelivery",
}

#: Permissions of their own an Operator has besides the models' (regenerating push URLs and
#: managing credentials stay with Admins).
OPERATOR_PERMISSIONS = {
    "place_calls",
    "query_itnio",
    # A draft's A/B variant is one of its settings: removing one loses no record.
    "delete_campaignvariant",
}

#: Models whose rows an Operator adds and edits (names of models that do not exist are ignored).
OPERATOR_MODELS = {
    "voicefile",
    "campaign",
    "campaignvariant",
    "callee",
    "calleeimport",
    "sipgroup",
    "aitask",
    "aicustomer",
    "contactlist",
    "contact",
    "suppressionlist",
    "suppressionentry",  # deleting an entry stays with Admins (delete_ is not given)
}

VIEWER, OPERATOR, ADMIN = "Viewer", "Operator", "Admin"


def role_permissions(name: str, permissions: Any) -> list[Any]:
    """Pick the role's permissions from a queryset of auth Permission rows (historical or not)."""
    scoped = permissions.filter(content_type__app_label__in=ROLE_APPS)
    view = scoped.filter(codename__startswith="view_").exclude(
        content_type__model__in=INTERNAL_MODELS
    )
    if name == VIEWER:
        return list(view)
    if name == OPERATOR:
        operator = [
            p
            for p in scoped
            if p.codename in OPERATOR_PERMISSIONS
            or any(p.codename in (f"add_{m}", f"change_{m}") for m in OPERATOR_MODELS)
        ]
        return list(view) + operator
    if name == ADMIN:
        # Everything in the portal's apps (credentials included), and user management.
        auth = permissions.filter(content_type__app_label="auth")
        return list(scoped) + list(auth)
    raise ValueError(name)


def staff_by_role(sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kw: Any):
    """m2m_changed of User.groups: a user put in a role may log in to the admin (staff status
    follows the role; nobody has to tick it as well)."""
    if action != "post_add" or not pk_set:
        return
    from django.contrib.auth.models import Group, User

    roles = Group.objects.filter(name__in=(VIEWER, OPERATOR, ADMIN))
    if reverse:  # group.user_set.add(users…)
        if instance.name in (VIEWER, OPERATOR, ADMIN):
            User.objects.filter(pk__in=pk_set, is_staff=False).update(is_staff=True)
    elif roles.filter(pk__in=pk_set).exists() and not instance.is_staff:
        User.objects.filter(pk=instance.pk).update(is_staff=True)
        instance.is_staff = True


def sync_roles(group_model: Any, permission_model: Any) -> None:
    permissions = permission_model.objects.select_related("content_type")
    internal = permissions.filter(
        content_type__app_label__in=ROLE_APPS, content_type__model__in=INTERNAL_MODELS
    )
    for name in (VIEWER, OPERATOR, ADMIN):
        group, _ = group_model.objects.get_or_create(name=name)
        if name != ADMIN:  # granted by earlier versions of the roles
            group.permissions.remove(*internal)
        group.permissions.add(*role_permissions(name, permissions))


def sync_roles_after_migrate(sender: Any, **kwargs: Any) -> None:
    from django.contrib.auth.models import Group, Permission

    sync_roles(Group, Permission)
