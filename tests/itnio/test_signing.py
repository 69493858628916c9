"""Sign = md5(key + secret + timestamp) and the per-attempt auth headers."""

from __future__ import annotations

import hashlib
import json

import responses

from itnio_portal.itnio import ItnioClient, sign, signed_headers

BASE = "https://itnio.test"
RECORD = {"status": "0", "reason": "success", "data": {"voiceId": "v1"}}


def test_known_answer_from_vendor_docs():
    # itnio-api.md §1 worked example. Seed 000 prints the key as "bD8JFiq9": that is a vendor
    # typo in the sample page (the same Sign appears in every seed with key "bDqJFiq9").
    assert sign("bDqJFiq9", "7bz1lzh9", "1630468800") == "05d7a50893e22a5c4bb3216ae3396c7c"
    assert sign("bD8JFiq9", "7bz1lzh9", "1630468800") != "05d7a50893e22a5c4bb3216ae3396c7c"


def test_sign_is_lowercase_hex_of_concatenation_without_separator():
    value = sign("k", "s", "1")
    assert value == hashlib.md5(b"ks1").hexdigest()
    assert value == value.lower() and len(value) == 32


def test_signed_headers_use_whole_seconds_and_json_content_type():
    headers = signed_headers("bDqJFiq9", "7bz1lzh9", 1630468800.97)
    assert headers == {
        "Content-Type": "application/json;charset=UTF-8",
        "Api-Key": "bDqJFiq9",
        "Timestamp": "1630468800",
        "Sign": "05d7a50893e22a5c4bb3216ae3396c7c",
    }


def test_signed_headers_never_contain_the_secret():
    headers = signed_headers("key12345", "topsecret99", 1700000000)
    assert all("topsecret99" not in value for value in headers.values())


@responses.activate
def test_retried_get_carries_a_fresh_timestamp_and_sign():
    ticks = iter([1_700_000_000.0 + i * 7 for i in range(20)])
    url = f"{BASE}/voice/recordGroup/v1"
    responses.add(responses.GET, url, status=502)
    responses.add(responses.GET, url, json=RECORD)
    client = ItnioClient(
        BASE, "key12345", "secret99", clock=lambda: next(ticks), sleep=lambda s: None
    )

    client.record_group("v1")

    assert len(responses.calls) == 2
    first, second = (call.request.headers for call in responses.calls)
    assert first["Timestamp"] != second["Timestamp"]
    assert first["Sign"] != second["Sign"]
    for headers in (first, second):
        assert headers["Sign"] == sign("key12345", "secret99", headers["Timestamp"])
        assert headers["Api-Key"] == "key12345"


@responses.activate
def test_each_logical_request_is_signed_at_its_own_time():
    ticks = iter([1_700_000_000.0, 1_700_000_000.0, 1_700_000_100.0, 1_700_000_100.0])
    responses.add(responses.GET, f"{BASE}/sms/getBalance", body=json.dumps({"status": "0"}))
    client = ItnioClient(BASE, "key12345", "secret99", clock=lambda: next(ticks))

    client.get_balance()
    client.get_balance()

    stamps = [call.request.headers["Timestamp"] for call in responses.calls]
    assert stamps == ["1700000000", "1700000100"]
