"""REST API for the send history: list with filters and cursor pages, detail, send progress."""

import uuid
from typing import Any

from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from history.models import Delivery, DeliveryAttempt
from history.selectors import DeliveryFilters, delivery_get, delivery_list, send_batch_get, send_progress
from history.services import send_batch_cancel


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "number",
            "started_at",
            "duration_ms",
            "outcome",
            "status_code",
            "failure_reason",
            "error_message",
            "next_attempt_at",
            "request_headers",
        ]
        extra_kwargs = {
            "request_headers": {
                "help_text": "Headers sent with this attempt alone, besides the request's: the Standard Webhooks "
                "signature (webhook-id, webhook-timestamp, webhook-signature), which carries the attempt's time."
            }
        }


class DeliverySerializer(serializers.ModelSerializer):
    webhook = serializers.IntegerField(source="webhook_id", allow_null=True, read_only=True)
    request = serializers.SerializerMethodField()
    response = serializers.SerializerMethodField()

    class Meta:
        model = Delivery
        fields = [
            "id",
            "webhook",
            "webhook_name",
            "user_id",
            "source",
            "journey_id",
            "journey_name",
            "journey_node_key",
            "status",
            "failure_reason",
            "error_message",
            "request",
            "response",
            "duration_ms",
            "attempt_count",
            "max_attempts",
            "next_attempt_at",
            "resent_from",
            "created_at",
            "completed_at",
        ]

    def get_request(self, delivery: Delivery) -> dict[str, Any] | None:
        if not delivery.request_method:
            return None
        # Secret values were masked when the request was stored; the sealed copy never leaves.
        return {
            "method": delivery.request_method,
            "url": delivery.request_url,
            "headers": delivery.request_headers,
            "body": delivery.request_body,
        }

    def get_response(self, delivery: Delivery) -> dict[str, Any] | None:
        if delivery.response_status_code is None:
            return None
        return {
            "status_code": delivery.response_status_code,
            "headers": delivery.response_headers,
            "body": delivery.response_body,
            "body_encoding": "base64" if delivery.response_body_is_base64 else "text",
            "body_truncated": delivery.response_body_truncated,
        }


class DeliveryDetailSerializer(DeliverySerializer):
    attempts = DeliveryAttemptSerializer(many=True, read_only=True)
    data = serializers.JSONField(read_only=True)  # type: ignore[assignment]

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "data", "attempts"]


UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


class DeliveryCursorPagination(CursorPagination):
    ordering = "-created_at"
    page_size = 50
    max_page_size = 500
    page_size_query_param = "page_size"


FILTER_PARAMETERS = [
    OpenApiParameter("status", OpenApiTypes.STR, enum=[s.value for s in Delivery.Status]),
    OpenApiParameter("webhook", OpenApiTypes.INT),
    OpenApiParameter("user_id", OpenApiTypes.STR),
    OpenApiParameter("source", OpenApiTypes.STR, enum=[s.value for s in Delivery.Source]),
    OpenApiParameter("failure_reason", OpenApiTypes.STR, enum=[r.value for r in Delivery.FailureReason]),
    OpenApiParameter("journey", OpenApiTypes.INT),
    OpenApiParameter("created_after", OpenApiTypes.DATETIME),
    OpenApiParameter("created_before", OpenApiTypes.DATETIME),
]


class _FilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Delivery.Status.choices, required=False)
    webhook = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    user_id = serializers.CharField(required=False)
    source = serializers.ChoiceField(choices=Delivery.Source.choices, required=False)  # type: ignore[assignment]
    failure_reason = serializers.ChoiceField(choices=Delivery.FailureReason.choices, required=False)
    journey = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)

    PAGING = ("cursor", "page_size")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A mistyped filter must not answer with everything, as if it had matched.
        unknown = sorted(set(self.initial_data) - set(self.fields) - set(self.PAGING))
        if unknown:
            known = ", ".join([*self.fields, *self.PAGING])
            raise serializers.ValidationError({name: [f"Unknown parameter; the list takes {known}."] for name in unknown})
        after, before = attrs.get("created_after"), attrs.get("created_before")
        if after and before and after >= before:
            raise serializers.ValidationError({"created_before": ["Must be later than created_after."]})
        return attrs


class DeliveryViewSet(viewsets.ViewSet):
    serializer_class = DeliverySerializer
    pagination_class = DeliveryCursorPagination  # read by the schema generator
    lookup_value_regex = UUID_PATTERN

    @extend_schema(parameters=FILTER_PARAMETERS, responses=DeliverySerializer(many=True))
    def list(self, request: Request) -> Response:
        params = _FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        values = params.validated_data
        filters = DeliveryFilters(
            status=values.get("status", ""),
            webhook_id=values.get("webhook"),
            user_id=values.get("user_id", ""),
            source=values.get("source", ""),
            failure_reason=values.get("failure_reason", ""),
            journey_id=values.get("journey"),
            created_after=values.get("created_after"),
            created_before=values.get("created_before"),
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(delivery_list(project=request.project, filters=filters), request, view=self)  # type: ignore[attr-defined]
        return paginator.get_paginated_response(DeliverySerializer(page, many=True).data)

    def _get(self, request: Request, pk: str) -> Delivery:
        delivery = delivery_get(project=request.project, delivery_id=pk)  # type: ignore[attr-defined]
        if delivery is None:
            raise Http404
        return delivery

    @extend_schema(responses=DeliveryDetailSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(DeliveryDetailSerializer(self._get(request, pk)).data)


class SendProgressSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="batch_id")
    webhook_name = serializers.CharField()
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    success = serializers.IntegerField()
    failure = serializers.IntegerField()
    pending = serializers.IntegerField(help_text="Queued, sending or waiting to retry.")
    cancelled = serializers.IntegerField(help_text="Of the failures, those cancelled before they were sent.")
    created_at = serializers.DateTimeField()
    cancelled_at = serializers.DateTimeField(allow_null=True)


class SendProgressView(APIView):
    """GET /api/v1/sends/{id}: progress of a send to many users."""

    @extend_schema(responses=SendProgressSerializer)
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        batch = send_batch_get(project=request.project, batch_id=pk)  # type: ignore[attr-defined]
        if batch is None:
            raise Http404
        return Response(SendProgressSerializer(send_progress(batch=batch)).data)


class SendCancelView(APIView):
    """POST /api/v1/sends/{id}/cancel: no more deliveries; the waiting ones become cancelled."""

    @extend_schema(request=None, responses=SendProgressSerializer)
    def post(self, request: Request, pk: uuid.UUID) -> Response:
        batch = send_batch_get(project=request.project, batch_id=pk)  # type: ignore[attr-defined]
        if batch is None:
            raise Http404
        send_batch_cancel(batch=batch, now=timezone.now())
        batch.refresh_from_db()
        return Response(SendProgressSerializer(send_progress(batch=batch)).data)
