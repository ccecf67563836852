from django.urls import re_path

from open311 import api

FMT = r"\.(?P<fmt>json|xml)$"

urlpatterns = [
    re_path(r"^discovery" + FMT, api.discovery, name="open311-discovery"),
    re_path(r"^services" + FMT, api.service_list, name="open311-services"),
    re_path(r"^services/(?P<code>[^/]+?)" + FMT, api.service_definition, name="open311-service"),
    re_path(r"^requests" + FMT, api.requests, name="open311-requests"),
    re_path(r"^servicerequestupdates" + FMT, api.request_updates, name="open311-updates"),
    re_path(r"^requests/(?P<request_id>[^/]+?)" + FMT, api.request_detail, name="open311-request"),
]
