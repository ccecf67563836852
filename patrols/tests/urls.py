"""The project's URLs plus patrols.urls at the root, as config/urls.py includes them (tests do not depend on
that include being present yet)."""

from django.urls import include, path

from config.urls import urlpatterns as project

urlpatterns = [path("", include("patrols.urls")), *[p for p in project]]
