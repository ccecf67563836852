from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LanesConfig(AppConfig):
    name = "lanes"
    verbose_name = _("街巷")
