"""Serializers for the webhook API. They parse and shape; the services decide."""

from typing import Any

from rest_framework import serializers

from channels_webhook.models import RATE_LIMIT_TOO_HIGH, Webhook
from channels_webhook.rendering import MASK, RESERVED_ROOT_NAMES
from channels_webhook.services import header_inputs_for_display

MAX_USERS_PER_SEND = 1000


class HeaderSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    value = serializers.CharField(
        allow_blank=True,
        required=False,
        default=None,
        max_length=8192,
        help_text=f"Liquid allowed. For a secret header the API shows '{MASK}'; send it back (or omit it) to keep the stored value.",
    )
    secret = serializers.BooleanField(default=False, help_text="Stored encrypted and shown masked everywhere.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A PATCH makes every field optional, nested ones too; a header without a name is never valid.
        if "name" not in attrs:
            raise serializers.ValidationError({"name": ["Each header needs a name."]})
        return attrs


class WebhookSerializer(serializers.ModelSerializer):
    headers = HeaderSerializer(many=True, required=False)
    data_variables = serializers.ListField(child=serializers.CharField(), read_only=True)
    signing_enabled = serializers.BooleanField(
        source="is_signed", read_only=True, help_text="Standard Webhooks signatures; see /signing-secret."
    )

    class Meta:
        model = Webhook
        fields = [
            "id",
            "name",
            "method",
            "url",
            "headers",
            "body_type",
            "body",
            "timeout_seconds",
            "max_attempts",
            "rate_limit_per_second",
            "send_idempotency_key",
            "signing_enabled",
            "is_active",
            "data_variables",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "data_variables", "signing_enabled", "created_at", "updated_at"]
        # DRF turns the model's MaxValueValidator into max_value and drops its message.
        extra_kwargs = {"rate_limit_per_second": {"error_messages": {"max_value": RATE_LIMIT_TOO_HIGH}}}

    def to_representation(self, instance: Webhook) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["headers"] = [
            {**header, "value": MASK if header["secret"] else header["value"]} for header in header_inputs_for_display(instance)
        ]
        return data


def validate_data_variables(data: dict[str, Any]) -> dict[str, Any]:
    reserved = sorted(set(data) & RESERVED_ROOT_NAMES)
    if reserved:
        raise serializers.ValidationError(
            f"{', '.join(reserved)} {'is' if len(reserved) == 1 else 'are'} filled in by the product and cannot be given as data."
        )
    return data


class AudienceSerializer(serializers.Serializer):
    all = serializers.BooleanField(required=False, help_text="Every user of the project.")
    tag = serializers.CharField(required=False, max_length=128, help_text="Users whose tag ...")
    equals = serializers.JSONField(required=False, help_text="... has exactly this value.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("all") is True and "tag" not in attrs:
            return {"all": True}
        if attrs.get("tag") and "equals" in attrs and not attrs.get("all"):
            return {"tag": attrs["tag"], "equals": attrs["equals"]}
        raise serializers.ValidationError('Give {"all": true} or {"tag": "plan", "equals": "pro"}.')


class SendSerializer(serializers.Serializer):
    user_ids = serializers.ListField(
        child=serializers.CharField(max_length=255), min_length=1, max_length=MAX_USERS_PER_SEND, required=False
    )
    audience = AudienceSerializer(required=False, help_text="Instead of user_ids: everyone, or users with a tag value.")
    data = serializers.DictField(required=False, default=dict, help_text="Values for the webhook's data variables.")  # type: ignore[assignment]

    def validate_data(self, data: dict[str, Any]) -> dict[str, Any]:
        return validate_data_variables(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("user_ids" in attrs) == ("audience" in attrs):
            raise serializers.ValidationError("Give either user_ids or audience.")
        return attrs


class SendResultSerializer(serializers.Serializer):
    send_id = serializers.UUIDField(help_text="Follow progress at /api/v1/sends/{send_id}.")
    delivery_ids = serializers.ListField(child=serializers.UUIDField(), required=False, help_text="For user_ids sends.")
    total = serializers.IntegerField(required=False, help_text="For audience sends: how many users it goes to.")


class SingleUserSendSerializer(serializers.Serializer):
    user_id = serializers.CharField(max_length=255)
    data = serializers.DictField(required=False, default=dict)  # type: ignore[assignment]

    def validate_data(self, data: dict[str, Any]) -> dict[str, Any]:
        return validate_data_variables(data)


class RenderedRequestSerializer(serializers.Serializer):
    method = serializers.CharField()
    url = serializers.CharField()
    headers = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    body = serializers.CharField(allow_blank=True)


class PreviewErrorSerializer(serializers.Serializer):
    failure_reason = serializers.CharField()
    error = serializers.CharField()


class SigningSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="Shown once. Verify with any Standard Webhooks library.")
    previous_valid_until = serializers.DateTimeField(allow_null=True, help_text="Until then the previous secret signs too.")
