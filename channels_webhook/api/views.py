"""REST API for webhooks: CRUD, preview, test (one attempt now) and send (queued)."""

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_webhook import sending
from channels_webhook.api.serializers import (
    PreviewErrorSerializer,
    RenderedRequestSerializer,
    SendResultSerializer,
    SendSerializer,
    SigningSecretSerializer,
    SingleUserSendSerializer,
    WebhookSerializer,
)
from channels_webhook.models import Webhook
from channels_webhook.rendering import MASK, RenderFailed
from channels_webhook.selectors import webhook_get, webhook_list
from channels_webhook.services import (
    HeaderInput,
    WebhookInUse,
    WebhookInvalid,
    webhook_create,
    webhook_delete,
    webhook_disable_signing,
    webhook_rotate_signing_secret,
    webhook_update,
)
from flarelane.audience.idempotency import idempotent
from flarelane.audience.models import EndUser
from flarelane.audience.selectors import end_user_get
from history.api import DeliveryDetailSerializer, DeliverySerializer
from history.selectors import delivery_get

API_FIELDS = {"URL": "url", "Body": "body", "Method": "method", "Body type": "body_type", "Headers": "headers"}


def _problems_as_errors(invalid: WebhookInvalid) -> dict[str, list[str]]:
    """Errors keyed by the API's field names; a header's problems say which header."""
    errors: dict[str, list[str]] = {}
    for problem in invalid.problems:
        field = API_FIELDS.get(problem.field) or ("headers" if problem.field.startswith("Header") else problem.field)
        message = f"{problem.field}: {problem}" if problem.field.startswith("Header '") else str(problem)
        errors.setdefault(field, []).append(message)
    return errors


def _header_inputs(raw: list[dict[str, Any]]) -> list[HeaderInput]:
    # A PATCH skips field defaults, so "secret" may be absent: absent means not secret.
    return [
        HeaderInput(
            name=header["name"],
            value=None if header.get("secret") and header.get("value") in (None, "", MASK) else header.get("value") or "",
            secret=bool(header.get("secret")),
        )
        for header in raw
    ]


WEBHOOK_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The webhook's id.")


@extend_schema_view(
    retrieve=extend_schema(parameters=[WEBHOOK_ID]),
    partial_update=extend_schema(parameters=[WEBHOOK_ID]),
    destroy=extend_schema(parameters=[WEBHOOK_ID]),
    preview=extend_schema(parameters=[WEBHOOK_ID]),
    test=extend_schema(parameters=[WEBHOOK_ID]),
    send=extend_schema(parameters=[WEBHOOK_ID]),
    signing_secret=extend_schema(parameters=[WEBHOOK_ID]),
)
class WebhookViewSet(viewsets.ViewSet):
    serializer_class = WebhookSerializer
    lookup_value_regex = r"\d+"

    def _get(self, request: Request, pk: str) -> Webhook:
        webhook = webhook_get(project=request.project, webhook_id=pk)  # type: ignore[attr-defined]
        if webhook is None:
            raise Http404
        return webhook

    def _user(self, request: Request, user_id: str) -> EndUser:
        end_user = end_user_get(project=request.project, user_id=user_id)  # type: ignore[attr-defined]
        if end_user is None:
            raise ValidationError({"user_id": [f"No user '{user_id}' in this project."]})
        return end_user

    def _save(self, request: Request, webhook: Webhook | None, partial: bool) -> Response:
        serializer = WebhookSerializer(webhook, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        raw_headers = values.pop("headers", None)
        headers = _header_inputs(raw_headers) if raw_headers is not None else None
        try:
            if webhook is None:
                webhook = webhook_create(project=request.project, values=values, headers=headers or [])  # type: ignore[attr-defined]
            else:
                webhook = webhook_update(webhook=webhook, values=values, headers=headers)
        except WebhookInvalid as invalid:
            return Response(_problems_as_errors(invalid), status=status.HTTP_400_BAD_REQUEST)
        return Response(WebhookSerializer(webhook).data, status=status.HTTP_200_OK if partial else status.HTTP_201_CREATED)

    @extend_schema(responses=WebhookSerializer(many=True))
    def list(self, request: Request) -> Response:
        return Response(WebhookSerializer(webhook_list(project=request.project), many=True).data)  # type: ignore[attr-defined]

    @extend_schema(request=WebhookSerializer, responses={201: WebhookSerializer})
    def create(self, request: Request) -> Response:
        return self._save(request, None, partial=False)

    @extend_schema(responses=WebhookSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(WebhookSerializer(self._get(request, pk)).data)

    @extend_schema(request=WebhookSerializer, responses=WebhookSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        return self._save(request, self._get(request, pk), partial=True)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        try:
            webhook_delete(webhook=self._get(request, pk))
        except WebhookInUse as in_use:
            raise ValidationError({"webhook": [str(in_use)]}) from None
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=SingleUserSendSerializer, responses={200: RenderedRequestSerializer, 422: PreviewErrorSerializer})
    @action(detail=True, methods=["post"])
    def preview(self, request: Request, pk: str) -> Response:
        webhook = self._get(request, pk)
        serializer = SingleUserSendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        end_user = self._user(request, serializer.validated_data["user_id"])
        try:
            rendered = sending.preview(webhook=webhook, end_user=end_user, data=serializer.validated_data["data"])
        except RenderFailed as failed:
            return Response({"failure_reason": failed.reason, "error": failed.message}, status=422)
        return Response(
            {
                "method": rendered.method,
                "url": rendered.url,
                "headers": [list(pair) for pair in rendered.masked_headers()],
                "body": rendered.body_text(),
            }
        )

    @extend_schema(request=SingleUserSendSerializer, responses={201: DeliveryDetailSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str) -> Response:
        webhook = self._get(request, pk)
        serializer = SingleUserSendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        end_user = self._user(request, serializer.validated_data["user_id"])
        delivery = sending.send_test(
            webhook=webhook, end_user=end_user, data=serializer.validated_data["data"], created_by_id=_staff_id(request)
        )
        return Response(DeliveryDetailSerializer(delivery).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={201: SigningSecretSerializer, 204: None})
    @action(detail=True, methods=["post", "delete"], url_path="signing-secret")
    def signing_secret(self, request: Request, pk: str) -> Response:
        """POST: start signing, or rotate (the previous secret keeps signing for 24 h). DELETE: stop signing."""
        webhook = self._get(request, pk)
        if request.method == "DELETE":
            webhook_disable_signing(webhook=webhook)
            return Response(status=status.HTTP_204_NO_CONTENT)
        rotated = webhook_rotate_signing_secret(webhook=webhook)
        return Response(
            {"secret": rotated.secret, "previous_valid_until": rotated.previous_valid_until}, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=SendSerializer, responses={202: SendResultSerializer})
    @idempotent
    @action(detail=True, methods=["post"])
    def send(self, request: Request, pk: str) -> Response:
        webhook = self._get(request, pk)
        serializer = SendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not webhook.is_active:
            raise ValidationError({"webhook": ["This webhook is inactive; activate it before sending."]})
        # One clear 400 rather than a render_error row per user.
        missing = [name for name in webhook.data_variables if name not in serializer.validated_data["data"]]
        if missing:
            raise ValidationError(
                {"data": [f"Give a value for each data variable of this webhook; missing: {', '.join(missing)}."]}
            )
        if "audience" in serializer.validated_data:
            batch = sending.send_to_audience(
                webhook=webhook,
                audience=serializer.validated_data["audience"],
                data=serializer.validated_data["data"],
                source="api",
                created_by_id=_staff_id(request),
            )
            return Response({"send_id": str(batch.pk), "total": batch.total}, status=status.HTTP_202_ACCEPTED)
        try:
            queued = sending.send_to_users(
                webhook=webhook,
                user_ids=serializer.validated_data["user_ids"],
                data=serializer.validated_data["data"],
                source="api",
                created_by_id=_staff_id(request),
            )
        except sending.UnknownUsers as unknown:
            raise ValidationError({"user_ids": [str(unknown)]}) from None
        return Response({"send_id": queued.send_id, "delivery_ids": queued.delivery_ids}, status=status.HTTP_202_ACCEPTED)


def _staff_id(request: Request) -> int | None:
    user = request.user
    return user.pk if getattr(user, "is_staff", False) else None  # type: ignore[union-attr]


class DeliveryResendView(APIView):
    """POST /api/v1/deliveries/{id}/resend: a new delivery of the same request, queued."""

    @extend_schema(request=None, responses={202: DeliverySerializer})
    def post(self, request: Request, pk: str) -> Response:
        original = delivery_get(project=request.project, delivery_id=pk)  # type: ignore[attr-defined]
        if original is None:
            raise Http404
        try:
            delivery = sending.resend(original=original, created_by_id=_staff_id(request))
        except sending.CannotResend as refused:
            raise ValidationError({refused.field: [refused.message]}) from None
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
