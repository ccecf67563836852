from django.urls import include, path
from rest_framework.routers import SimpleRouter

from cases import api, views

router = SimpleRouter()
router.register("api/cases", api.CaseViewSet, basename="case")

urlpatterns = [
    path("", include(router.urls)),
    path("report/", views.report, name="cases-report"),
    path("track/", views.track, name="cases-track"),
    path("inbox/", views.inbox, name="cases-inbox"),
    path("inbox/<int:pk>/", views.case_page, name="cases-case"),
]
