"""The project's URLs with patrols.urls at the root, as config/urls.py includes them; the tests do not depend on
that include being there yet (nor break once it is)."""

from django.urls import Resolver404, include, path, resolve

from config.urls import urlpatterns as project

try:
    resolve("/api/patrols/", urlconf="config.urls")
    urlpatterns = list(project)
except Resolver404:
    urlpatterns = [path("", include("patrols.urls")), *project]
