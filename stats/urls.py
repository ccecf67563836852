from django.urls import include, path
from rest_framework.routers import SimpleRouter

from stats import api, views

router = SimpleRouter()
router.register("api/stats/bulletins", api.BulletinViewSet, basename="stats-bulletin")

urlpatterns = [
    path("api/stats/indicators/", api.IndicatorsView.as_view(), name="stats-indicators"),
    path("api/stats/rankings/", api.RankingsView.as_view(), name="stats-rankings"),
    path("api/stats/ratings/", api.RatingView.as_view(), name="stats-ratings"),
    path("api/stats/surveys/", api.SurveyView.as_view(), name="stats-surveys"),
    path("stats/bulletins/", views.bulletin_list, name="stats-bulletin-list"),
    path("stats/bulletins/<int:pk>/", views.bulletin_page, name="stats-bulletin-page"),
    path("stats/bulletins/<int:pk>/xlsx/", views.bulletin_xlsx_view, name="stats-bulletin-xlsx"),
    path("", include(router.urls)),
]
