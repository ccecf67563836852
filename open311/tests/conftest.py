"""The cases test world (real OSM streets of Huangpu, test areas, squads) and an API key."""

import pytest

from cases.tests.conftest import media_root, world  # noqa: F401  (fixtures)


@pytest.fixture
def api_key(db):
    from open311.services import issue_api_key

    key, raw = issue_api_key(name="测试客户端")
    key.raw = raw
    return key
