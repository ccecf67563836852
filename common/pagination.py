"""Pagination for GeoJSON lists: a FeatureCollection with count/next/previous (drf-gis), 100 features a page,
up to 1000 with ?page_size. A page_size that is not an integer in 1..1000 is a 400, not silently replaced."""

from __future__ import annotations

from rest_framework_gis.pagination import GeoJsonPagination as _GisGeoJsonPagination

from common.params import parse_int

PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


class GeoJsonPagination(_GisGeoJsonPagination):
    page_size = PAGE_SIZE
    max_page_size = MAX_PAGE_SIZE
    page_size_query_param = "page_size"
    page_size_query_description = f"每页条数，1 到 {MAX_PAGE_SIZE}，默认 {PAGE_SIZE}"

    def get_page_size(self, request):
        return parse_int(
            request.query_params.get(self.page_size_query_param),
            name=self.page_size_query_param,
            default=self.page_size,
            minimum=1,
            maximum=self.max_page_size,
        )

    def get_paginated_response_schema(self, schema):
        """A page is a GeoJSON FeatureCollection (`schema`, the list serializer's component) with count, next and
        previous added. (drf-gis's own version would nest the whole collection under "features".)"""
        base = super(_GisGeoJsonPagination, self).get_paginated_response_schema(schema)["properties"]
        extra = {
            "type": "object",
            "required": ["count"],
            "properties": {k: base[k] for k in ("count", "next", "previous")},
        }
        return {"allOf": [schema, extra]}

    def get_schema_operation_parameters(self, view):
        params = super().get_schema_operation_parameters(view)
        for param in params:
            if param["name"] == self.page_size_query_param:
                param["schema"].update({"minimum": 1, "maximum": self.max_page_size, "default": self.page_size})
        return params
