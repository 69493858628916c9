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
    launch = paths["/api/v1/campaigns/{id}/launch/"]["post"]["responses"]
    assert {"200", "400", "401", "403", "404", "409", "429"} <= set(launch)
    assert launch["403"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert "422" in paths["/api/v1/calls/tts/"]["post"]["responses"]
    page = client.get("/api/v1/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any("swagger-ui" in a for a in assets)
    assert all(not a.startswith(("http://", "https://", "//")) for a in assets), assets
