from rest_framework.routers import SimpleRouter

from grid.api import AreaViewSet

router = SimpleRouter()
router.register("areas", AreaViewSet, basename="area")

urlpatterns = router.urls
