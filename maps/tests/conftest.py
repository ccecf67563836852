"""Test places for the map pages: the people app's test place (real OSM streets 福州路 and 湖北路 in illustrative
areas; see people/tests/conftest.py) with a lane chief who publishes an office phone, a volunteer chief who publishes
nothing, and the three squads of the street office."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

PRIVATE_PHONES = ("13800001111", "13800002222")


@pytest.fixture
def place(db):
    from people import services
    from people.tests.conftest import make_place

    p = make_place()
    cadre = services.person_create(
        name="王建国", title="科长", private_phone=PRIVATE_PHONES[0], public_phone="0535-6001234"
    )
    volunteer = services.person_create(name="李秀英", private_phone=PRIVATE_PHONES[1], is_volunteer=True)
    services.assign_lane_chief(person=cadre, lane=p.fuzhou_w, valid_from=date(2024, 1, 1), duties="包秩序、包环境")
    services.assign_lane_chief(person=volunteer, lane=p.hubei, valid_from=date(2024, 1, 1))
    squads = {
        kind: services.squad_create(name=f"南京东路街道{label}中队", kind=kind, duty_phone=phone, street_office=p.so)
        for kind, label, phone in (
            ("street_order", "市容", "021-63210001"),
            ("sanitation", "环卫", "021-63210002"),
            ("municipal", "市政", "021-63210003"),
        )
    }
    return SimpleNamespace(**vars(p), cadre=cadre, volunteer=volunteer, squads=squads)
