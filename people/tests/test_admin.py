from datetime import date, timedelta

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from people import services
from people.models import ChiefAssignment, Department, Person, Squad, SquadKind, WorkGroup

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.org", "x-very-long-password")
    client.force_login(user)
    return client


@pytest.fixture
def data(place):
    dept = services.department_create(name="区市容绿化局", street_office=place.so)
    chief = services.person_create(
        name="赵敏", title="科长", department=dept, private_phone="13912345678", public_phone="021-63211234"
    )
    today = timezone.localdate()
    current = services.assign_lane_chief(person=chief, lane=place.hubei, valid_from=today - timedelta(days=30))
    past = services.assign_lane_chief(
        person=chief, lane=place.fuzhou_w, valid_from=date(2020, 1, 1), valid_to=date(2020, 12, 31)
    )
    squad = services.squad_create(name="湖北路保洁", kind="sanitation", duty_phone="021-63002000", lanes=[place.hubei])
    services.squad_add_member(squad=squad, person=chief, is_leader=True)
    services.work_group_create(department=dept, name="第一组", leader=chief, lanes=[place.hubei])
    return {"chief": chief, "current": current, "past": past, "squad": squad}


@pytest.mark.parametrize("model", [Department, Person, ChiefAssignment, WorkGroup, SquadKind, Squad])
def test_people_models_are_registered_and_their_pages_render(staff_client, data, model):
    assert admin.site.is_registered(model)
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    assert staff_client.get(changelist).status_code == 200
    assert staff_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add")).status_code == 200
    obj = model.objects.first()
    change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    assert staff_client.get(change).status_code == 200


def test_person_list_searches_but_does_not_show_private_phones(staff_client, data):
    url = reverse("admin:people_person_changelist")
    page = staff_client.get(url, {"q": "赵"}).content.decode()
    assert "赵敏" in page and "021-63211234" in page
    assert "13912345678" not in page
    # staff may still find a person by their private number (e.g. a caller's number)
    assert "赵敏" in staff_client.get(url, {"q": "13912345678"}).content.decode()


def test_assignment_current_filter(staff_client, data):
    url = reverse("admin:people_chiefassignment_changelist")
    current = staff_client.get(url, {"current": "yes"}).context["cl"].queryset
    assert list(current) == [data["current"]]
    ended = staff_client.get(url, {"current": "no"}).context["cl"].queryset
    assert list(ended) == [data["past"]]
