"""Seed the three squad kinds of the Bozhou model: 市容 (street order), 环卫 (sanitation), 市政 (municipal works).
Squad kinds are data: a city may rename these or add its own (e.g. 园林) in the admin."""

from django.db import migrations

KINDS = [("street_order", "市容", 10), ("sanitation", "环卫", 20), ("municipal", "市政", 30)]


def seed(apps, schema_editor):
    SquadKind = apps.get_model("people", "SquadKind")
    for code, name, order in KINDS:
        if not SquadKind.objects.filter(code=code).exists() and not SquadKind.objects.filter(name=name).exists():
            SquadKind.objects.create(code=code, name=name, order=order)


def unseed(apps, schema_editor):
    SquadKind = apps.get_model("people", "SquadKind")
    SquadKind.objects.filter(code__in=[code for code, _, _ in KINDS], squads__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("people", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
