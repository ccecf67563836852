from django.db import migrations

from cases.seed import GROUPS, LEAVES, seed_categories


def forwards(apps, schema_editor):
    seed_categories(apps.get_model("cases", "Category"))


def backwards(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    Category.objects.filter(code__in=[c[0] for c in LEAVES], cases__isnull=True).delete()
    Category.objects.filter(code__in=[c[0] for c in GROUPS], children__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0002_caseevent_append_only")]
    operations = [migrations.RunPython(forwards, backwards)]
