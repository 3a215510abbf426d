"""REST API for end users: PUT replaces, PATCH merges (a null tag deletes it)."""

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from flarelane.audience.models import EndUser
from flarelane.audience.selectors import end_user_get, end_user_list
from flarelane.audience.services import USER_ATTRIBUTE_FIELDS, end_user_delete, end_user_patch, end_user_put

MAX_TAGS = 200


class EndUserSerializer(serializers.ModelSerializer):
    tags = serializers.DictField(required=False, default=dict, help_text="String, number, boolean or list values.")

    class Meta:
        model = EndUser
        fields = ["user_id", *USER_ATTRIBUTE_FIELDS, "tags", "created_at", "updated_at"]
        read_only_fields = ["user_id", "created_at", "updated_at"]

    def validate_tags(self, tags: dict[str, Any]) -> dict[str, Any]:
        if len(tags) > MAX_TAGS:
            raise serializers.ValidationError(f"A user may have at most {MAX_TAGS} tags.")
        for key in tags:
            if not key or len(key) > 128:
                raise serializers.ValidationError("Tag names must be 1 to 128 characters.")
        return tags


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
        if not user_id or len(user_id) > 255:
            return Response({"user_id": ["A user id is 1 to 255 characters."]}, status=status.HTTP_400_BAD_REQUEST)
        serializer = EndUserSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        tags = values.pop("tags", {})
        end_user, created = end_user_put(project=request.project, user_id=user_id, attributes=values, tags=tags)  # type: ignore[attr-defined]
        return Response(EndUserSerializer(end_user).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=EndUserPatchSerializer, responses=EndUserSerializer)
    def partial_update(self, request: Request, user_id: str) -> Response:
        end_user = self._get(request, user_id)
        serializer = EndUserPatchSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        tags = values.pop("tags", None)
        end_user = end_user_patch(end_user=end_user, attributes=values, tags=tags)
        return Response(EndUserSerializer(end_user).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, user_id: str) -> Response:
        end_user_delete(end_user=self._get(request, user_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
