"""Admin of the campaigns app, one module per area."""

from campaigns.admin import accounts, ai, callees, calls, campaigns, inbox, voice_files  # noqa: F401
