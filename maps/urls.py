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
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/api/lanes/", api.dashboard_lanes, name="dashboard-api-lanes"),
    path("dashboard/api/lanes/<int:lane_id>/", api.dashboard_lane, name="dashboard-api-lane"),
    path("dashboard/api/cells/", api.dashboard_cells, name="dashboard-api-cells"),
    path("dashboard/api/cases/", api.dashboard_cases, name="dashboard-api-cases"),
    path("dashboard/api/heat/", api.dashboard_heat, name="dashboard-api-heat"),
    path("dashboard/api/boundaries/", api.dashboard_boundaries, name="dashboard-api-boundaries"),
]
