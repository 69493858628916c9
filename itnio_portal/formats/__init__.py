"""Per-language date and time formats (Django FORMAT_MODULE_PATH)."""
