"""Admin of the campaigns app, one module per area (users: the portal's user and role admins)."""

from campaigns.admin import (  # noqa: F401
    accounts,
    ai,
    ai_customers,
    ai_records,
    alerts,
    api_tokens,
    bill_check,
    callee_imports,
    callees,
    calls,
    campaigns,
    contact_imports,
    contact_lists,
    inbox,
    rates,
    report_subscriptions,
    suppression,
    users,
    voice_files,
    webhooks,
)
