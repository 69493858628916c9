"""SIP phone group models (the SIP issue fills this in)."""
