"""Request signing for the ITNIO API: Sign = md5(api_key + api_secret + timestamp)."""

from __future__ import annotations

import hashlib

CONTENT_TYPE = "application/json;charset=UTF-8"


def sign(api_key: str, api_secret: str, timestamp: str) -> str:
    """Return the lowercase hex MD5 of key + secret + timestamp (itnio-api.md §1).

    The three parts are joined with no separator; the body, path and query are not signed.
    The vendor calls the Sign case-insensitive; we send lowercase like the public clients do.
    """
    # MD5 is the vendor's choice, not ours: it is a request signature, not password storage.
    return hashlib.md5((api_key + api_secret + timestamp).encode("utf-8")).hexdigest()


def signed_headers(api_key: str, api_secret: str, now: float) -> dict[str, str]:
    """Build the four auth headers for ONE attempt at Unix time `now` (itnio-api.md §1).

    Never cache the result: the Timestamp expiry window is undocumented (-16 voice, -4
    aivoice), so every attempt, retries included, gets a fresh Timestamp and Sign.
    """
    timestamp = str(int(now))
    return {
        # GETs send the Content-Type too, as the vendor samples do (itnio-api.md §1).
        "Content-Type": CONTENT_TYPE,
        "Api-Key": api_key,
        "Timestamp": timestamp,
        "Sign": sign(api_key, api_secret, timestamp),
    }
