"""Admin of the campaigns app, one module per area."""

from campaigns.admin import accounts, calls, inbox, voice_files  # noqa: F401
