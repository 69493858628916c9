"""Date and time formats of the portal's English pages: ISO-like and short (an operations table
compares many timestamps side by side; "Dec. 2, 2026, 1:44 a.m." took two lines a cell)."""

DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i:s"
TIME_FORMAT = "H:i:s"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
