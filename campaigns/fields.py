"""Model fields: API secrets encrypted at rest (django-fernet-encrypted-fields, our key policy)."""

from __future__ import annotations

import logging
from typing import Any

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test.signals import setting_changed
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from encrypted_fields.fields import EncryptedCharField, EncryptedFieldMixin

logger = logging.getLogger(__name__)


class UndecryptableSecret(str):
    """A stored secret that none of the configured keys can decrypt (its value is empty; the
    ciphertext is kept so a fixture of it still carries what was stored)."""

    ciphertext: str

    def __new__(cls, ciphertext: str = "") -> UndecryptableSecret:
        secret = super().__new__(cls, "")
        secret.ciphertext = ciphertext
        return secret


def _looks_encrypted(value: str) -> bool:
    """A Fernet token: URL-safe base64 of version byte 0x80 (so it starts "gAAAAA")."""
    return value.startswith("gAAAAA") and len(value) >= 100


class SecretField(EncryptedCharField):
    """Fernet-encrypted text.

    Keys come from ITNIO_FIELD_KEYS (newest first: the first encrypts, every key decrypts, so a
    key is rotated by putting the new one in front and running `manage.py rotate_field_keys`).
    When that setting is empty the library derives a key from SECRET_KEY and every entry of
    SECRET_KEY_FALLBACKS. A value no key can decrypt is not passed on as if it were the secret
    (the library would hand back the ciphertext): it loads as `UndecryptableSecret`.
    """

    @cached_property
    def keys(self) -> list[bytes]:
        configured = getattr(settings, "ITNIO_FIELD_KEYS", None) or []
        if configured:
            return [key.encode("ascii") for key in configured]
        return super().keys

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        try:
            return self.f.decrypt(value.encode("utf-8")).decode("utf-8")
        except InvalidToken:
            logger.error(
                "A stored %s.%s cannot be decrypted with the configured keys",
                self.model.__name__,
                self.name,
            )
            return UndecryptableSecret(value)

    def value_to_string(self, obj: Any) -> str:
        """Serialized (dumpdata, fixtures) as ciphertext, never the secret itself."""
        value = self.value_from_object(obj)
        if isinstance(value, UndecryptableSecret):
            return value.ciphertext
        return self.get_prep_value(value) or ""

    def to_python(self, value: Any) -> Any:
        """A fixture's ciphertext is decrypted with this portal's keys; one they cannot decrypt
        is refused (the library would keep the ciphertext as if it were the secret)."""
        if (
            not isinstance(value, str)
            or hasattr(self, "_already_decrypted")
            or not _looks_encrypted(value)
        ):
            return super(EncryptedFieldMixin, self).to_python(value)  # CharField's
        try:
            return self.f.decrypt(value.encode("utf-8")).decode("utf-8")
        except InvalidToken as exc:
            raise ValidationError(
                _(
                    "This encrypted %(field)s cannot be decrypted with this portal's keys "
                    "(ITNIO_FIELD_KEYS, or SECRET_KEY when that is empty)."
                )
                % {"field": self.verbose_name},
                code="undecryptable",
            ) from exc


def _reset_cached_keys(*, setting: str, **kwargs: Any) -> None:
    """Keys are derived once per field; forget them when a test overrides the key settings."""
    if setting not in {"ITNIO_FIELD_KEYS", "SECRET_KEY", "SECRET_KEY_FALLBACKS", "SALT_KEY"}:
        return
    from django.apps import apps

    for model in apps.get_models():
        for model_field in model._meta.get_fields():
            if isinstance(model_field, SecretField):
                model_field.__dict__.pop("keys", None)
                model_field.__dict__.pop("f", None)


setting_changed.connect(_reset_cached_keys)
