"""REST API for end users: PUT replaces, PATCH merges (a null tag deletes it)."""

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from flarelane.audience.models import EndUser
from flarelane.audience.selectors import end_user_get, end_user_list
from flarelane.audience.services import (
    USER_ATTRIBUTE_FIELDS,
    TagsRefused,
    UserInput,
    attribute_problem,
    end_user_delete,
    end_user_patch,
    end_user_put,
    end_users_put_many,
    tags_problem,
)

MAX_USERS_PER_CALL = 1000


class EndUserSerializer(serializers.ModelSerializer):
    tags = serializers.DictField(required=False, default=dict, help_text="String, number, boolean or list values.")

    class Meta:
        model = EndUser
        fields = ["user_id", *USER_ATTRIBUTE_FIELDS, "tags", "created_at", "updated_at"]
        read_only_fields = ["user_id", "created_at", "updated_at"]

    def validate_tags(self, tags: dict[str, Any]) -> dict[str, Any]:
        problem = tags_problem(tags)
        if problem:
            raise serializers.ValidationError(problem)
        return tags

    def validate_email(self, email: str) -> str:
        return _checked_attribute("email", email)

    def validate_time_zone(self, time_zone: str) -> str:
        return _checked_attribute("time_zone", time_zone)


def _checked_attribute(field: str, value: str) -> str:
    problem = attribute_problem(field, value)
    if problem:
        raise serializers.ValidationError(problem)
    return value


class EndUserBatchItemSerializer(EndUserSerializer):
    user_id = serializers.CharField(max_length=255, help_text="The project's own id for the user.")

    class Meta(EndUserSerializer.Meta):
        read_only_fields = ["created_at", "updated_at"]


class BatchPutResultSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text="Users that did not exist before.")
    replaced = serializers.IntegerField(help_text="Existing users whose attributes and tags were replaced.")


class EndUserPatchSerializer(EndUserSerializer):
    tags = serializers.DictField(required=False, allow_empty=True, help_text="Merged into the user's tags; null deletes a tag.")


class UserCursorPagination(CursorPagination):
    ordering = "user_id"  # unique within a project, so pages never repeat or skip a user
    page_size = 100
    max_page_size = 1000
    page_size_query_param = "page_size"


class EndUserViewSet(viewsets.ViewSet):
    lookup_field = "user_id"
    lookup_value_regex = "[^/]+"
    serializer_class = EndUserSerializer

    def _get(self, request: Request, user_id: str) -> EndUser:
        end_user = end_user_get(project=request.project, user_id=user_id)  # type: ignore[attr-defined]
        if end_user is None:
            raise Http404
        return end_user

    pagination_class = UserCursorPagination  # read by the schema generator

    @extend_schema(responses=EndUserSerializer(many=True))
    def list(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(end_user_list(project=request.project), request, view=self)  # type: ignore[attr-defined]
        return paginator.get_paginated_response(EndUserSerializer(page, many=True).data)

    @extend_schema(responses=EndUserSerializer)
    def retrieve(self, request: Request, user_id: str) -> Response:
        return Response(EndUserSerializer(self._get(request, user_id)).data)

    @extend_schema(request=EndUserSerializer, responses={200: EndUserSerializer, 201: EndUserSerializer})
    def update(self, request: Request, user_id: str) -> Response:
        if not user_id or len(user_id) > 255 or any(ord(ch) < 32 for ch in user_id):
            return Response(
                {"user_id": ["A user id is 1 to 255 characters, without control characters."]}, status=status.HTTP_400_BAD_REQUEST
            )
        serializer = EndUserSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        tags = values.pop("tags", {})
        end_user, created = end_user_put(project=request.project, user_id=user_id, attributes=values, tags=tags)  # type: ignore[attr-defined]
        return Response(EndUserSerializer(end_user).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        operation_id="users_batch_put",
        summary=f"Create or replace up to {MAX_USERS_PER_CALL} users",
        request=EndUserBatchItemSerializer(many=True),
        responses={200: BatchPutResultSerializer},
    )
    def batch_put(self, request: Request) -> Response:
        """PUT /api/v1/users: each user exactly as PUT /users/{user_id} would; all or none."""
        items = request.data
        if not isinstance(items, list) or not items:
            raise ValidationError(
                {"users": [f"Send a JSON list of 1 to {MAX_USERS_PER_CALL} users, each {{user_id, attributes, tags}}."]}
            )
        if len(items) > MAX_USERS_PER_CALL:
            raise ValidationError(
                {
                    "users": [
                        f"At most {MAX_USERS_PER_CALL} users per call; this call has {len(items)}. Split it into smaller calls."
                    ]
                }
            )
        users: list[UserInput] = []
        problems: list[dict[str, Any]] = []
        first_index: dict[str, int] = {}
        for index, item in enumerate(items):
            serializer = EndUserBatchItemSerializer(data=item)
            if not serializer.is_valid():
                user_id = item.get("user_id") if isinstance(item, dict) else None
                problems.append({"index": index, "user_id": user_id, "errors": serializer.errors})
                continue
            values = dict(serializer.validated_data)
            user_id = values.pop("user_id")
            if user_id in first_index:
                message = f"User '{user_id}' is already item {first_index[user_id]} of this call; send each user once."
                problems.append({"index": index, "user_id": user_id, "errors": {"user_id": [message]}})
                continue
            first_index[user_id] = index
            users.append(UserInput(user_id=user_id, attributes=values, tags=values.pop("tags", {})))
        if problems:
            # Nothing is written: the caller fixes the named items and sends the call again.
            # A Response, not ValidationError, which would turn each index into a string.
            return Response({"users": problems}, status=status.HTTP_400_BAD_REQUEST)
        result = end_users_put_many(project=request.project, users=users)  # type: ignore[attr-defined]
        return Response({"created": len(result.created), "replaced": len(result.replaced)})

    @extend_schema(request=EndUserPatchSerializer, responses=EndUserSerializer)
    def partial_update(self, request: Request, user_id: str) -> Response:
        end_user = self._get(request, user_id)
        serializer = EndUserPatchSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        tags = values.pop("tags", None)
        try:
            end_user = end_user_patch(end_user=end_user, attributes=values, tags=tags)
        except EndUser.DoesNotExist:
            raise Http404 from None  # deleted by another call since it was read above
        except TagsRefused as refused:
            raise ValidationError({"tags": [str(refused)]}) from None
        return Response(EndUserSerializer(end_user).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, user_id: str) -> Response:
        end_user_delete(end_user=self._get(request, user_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
