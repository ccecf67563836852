"""The OpenAPI schema: valid, generated without warnings, documents the read API, and its Swagger UI works offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command

READ_API = {
    "/api/lanes/": {"in_bbox", "kind", "community", "name", "page", "page_size"},
    "/api/lanes/{id}/": {"id"},
    "/api/lanes/nearest/": {"lat", "lon", "coordsys", "within", "limit"},
    "/api/areas/": {"in_bbox", "level", "parent", "page", "page_size"},
    "/api/areas/{code}/": {"code"},
    "/api/areas/at/": {"lat", "lon", "coordsys"},
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    path = Path(tmp_path_factory.mktemp("openapi")) / "schema.yaml"
    # --validate: against the OpenAPI 3 JSON schema; --fail-on-warn: any generator warning fails.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", sorted(READ_API))
def test_read_endpoint_is_documented_get_only_with_its_parameters(schema, path):
    operations = schema["paths"][path]
    assert set(operations) - {"parameters"} == {"get"}
    get = operations["get"]
    assert {p["name"] for p in get.get("parameters", [])} == READ_API[path]
    assert "200" in get["responses"]
    error = "404" if "{" in path else "400"
    assert get["responses"][error]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ApiError"}


def test_required_parameters_are_marked(schema):
    for path in ("/api/lanes/nearest/", "/api/areas/at/"):
        params = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}
        assert params["lat"]["required"] and params["lon"]["required"]
        assert params["coordsys"]["schema"]["enum"] == ["gcj02", "wgs84"]
    nearest = {p["name"]: p for p in schema["paths"]["/api/lanes/nearest/"]["get"]["parameters"]}
    assert not nearest["within"].get("required") and not nearest["limit"].get("required")


def test_geojson_shapes_are_described(schema):
    components = schema["components"]["schemas"]
    lane = components["LaneFeature"]["properties"]
    assert set(lane) == {"id", "type", "geometry", "properties"}
    assert lane["geometry"]["properties"]["type"]["enum"] == ["MultiLineString"]
    assert set(lane["properties"]["properties"]) == {"id", "name", "name_zh", "kind", "length_m", "community"}
    assert "grid_cells" in components["LaneDetail"]["properties"]["properties"]["properties"]
    page = components["PaginatedLaneFeatureList"]["allOf"]
    assert page[0] == {"$ref": "#/components/schemas/LaneFeatureList"}
    assert set(page[1]["properties"]) == {"count", "next", "previous"}
    collection = components["LaneFeatureList"]["properties"]
    assert collection["features"]["items"] == {"$ref": "#/components/schemas/LaneFeature"}
    assert set(components["NearestLane"]["properties"]) >= {"id", "name", "distance_m", "community"}
    assert set(components["AreaAt"]["properties"]) == {"level", "level_name", "code", "name", "illustrative", "parent"}


def test_schema_endpoint_is_public(client, db):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/lanes/nearest/" in response.content


def test_docs_page_loads_only_local_assets(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"https?://", html), "the docs page must not reference any remote URL (CDN, validator)"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    scripts = [a for a in assets if a.endswith(".js")]
    assert any("swagger-ui-bundle" in a for a in scripts)
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not a bundled static file"


def test_docs_page_turns_off_the_online_validator(client, db):
    # Swagger UI otherwise fetches a badge from https://validator.swagger.io for every non-localhost host.
    html = client.get("/api/docs/").content.decode()
    settings_js = re.search(r"const swaggerSettings = (\{.*?\});", html, re.S)
    assert settings_js, "Swagger UI settings not found in the page"
    assert re.search(r'"validatorUrl":\s*null', settings_js.group(1)), settings_js.group(1)
