"""/api/v1/: one router for every app's API views."""

from django.urls import path
from rest_framework.routers import Route, SimpleRouter

from channels_webhook.api.views import DeliveryResendView, WebhookViewSet
from flarelane.audience.api import EndUserViewSet
from history.api import DeliveryViewSet, SendCancelView, SendProgressView
from journeys.api import EventsView, JourneyViewSet


class ApiRouter(SimpleRouter):
    """SimpleRouter, plus PUT on a collection for viewsets that define `batch_put`."""

    routes = [
        # SimpleRouter's list route; a viewset without `batch_put` gets no PUT from it.
        Route(
            url=r"^{prefix}{trailing_slash}$",
            mapping={"get": "list", "post": "create", "put": "batch_put"},
            name="{basename}-list",
            detail=False,
            initkwargs={"suffix": "List"},
        ),
        *SimpleRouter.routes[1:],
    ]


router = ApiRouter(trailing_slash=False)
router.register("users", EndUserViewSet, basename="user")
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register("deliveries", DeliveryViewSet, basename="delivery")
router.register("journeys", JourneyViewSet, basename="journey")

urlpatterns = [
    path("deliveries/<uuid:pk>/resend", DeliveryResendView.as_view(), name="delivery-resend"),
    path("sends/<uuid:pk>", SendProgressView.as_view(), name="send-progress"),
    path("sends/<uuid:pk>/cancel", SendCancelView.as_view(), name="send-cancel"),
    path("events", EventsView.as_view(), name="events"),
    *router.urls,
]
