"""The OpenAPI schema generates without a warning, and the reference page is served with the
portal's own copy of Swagger UI (no CDN)."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_the_schema_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    assert "/api/v1/calls/tts/" in text and "tokenAuth" in text


def test_schema_and_docs_are_served_without_the_internet(client):
    schema = client.get("/api/v1/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/campaigns/{id}/launch/" in paths
    page = client.get("/api/v1/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any("swagger-ui" in a for a in assets)
    assert all(not a.startswith(("http://", "https://", "//")) for a in assets), assets
