from rest_framework.routers import SimpleRouter

from lanes.api import LaneViewSet

router = SimpleRouter()
router.register("lanes", LaneViewSet, basename="lane")

urlpatterns = router.urls
