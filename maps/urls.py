from django.urls import path

from maps import api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("lookup/", views.lookup, name="lookup"),
    path("lookup/lanes/<int:lane_id>/", views.lookup_lane, name="lookup-lane"),
    path("lookup/lanes/<int:lane_id>/placard/", views.lookup_placard, name="lookup-placard"),
    path("lookup/api/lanes/", api.lookup_lanes, name="lookup-api-lanes"),
    path("lookup/api/nearest/", api.lookup_nearest, name="lookup-api-nearest"),
    path("squad/", views.squad_map, name="squad-map"),
]
