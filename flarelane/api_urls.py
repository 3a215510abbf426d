"""/api/v1/: one router for every app's API views."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from channels_webhook.api.views import DeliveryResendView, WebhookViewSet
from flarelane.audience.api import EndUserViewSet
from history.api import DeliveryViewSet, SendCancelView, SendProgressView
from journeys.api import EventsView, JourneyViewSet

router = SimpleRouter(trailing_slash=False)
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
