"""REST API for journeys (the graph in DESIGN.md's shape) and for events, which enrol users."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from flarelane.audience.idempotency import idempotent
from flarelane.audience.selectors import end_user_get
from flarelane.audience.services import end_user_put
from journeys import graph as graphs
from journeys.models import Journey
from journeys.selectors import journey_get, journey_list, journey_stats
from journeys.services import (
    JourneyInvalid,
    event_ingest,
    journey_activate,
    journey_archive,
    journey_create,
    journey_duplicate,
    journey_enrol_or_why_not,
    journey_graph,
    journey_pause,
    journey_update,
)

MAX_EVENTS_PER_CALL = 1000


class JourneySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=200)
    status = serializers.CharField(read_only=True, help_text="draft, active, paused or archived; changed by the actions.")
    entry = serializers.DictField(required=False, help_text='{"event": "signup", "filter": {"field", "op", "value"}}')
    reentry = serializers.DictField(required=False, help_text='{"policy": "once" | "after_hours" | "always", "hours": N}')
    exit_events = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    nodes = serializers.ListField(child=serializers.DictField(), required=False)
    edges = serializers.ListField(child=serializers.DictField(), required=False)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, journey: Journey) -> dict[str, Any]:
        graph = journey_graph(journey).to_json()
        return {
            "id": journey.pk,
            "name": journey.name,
            "status": journey.status,
            "entry": {"event": journey.entry_event, "filter": journey.entry_filter},
            "reentry": {"policy": journey.reentry_policy, "hours": journey.reentry_hours},
            "exit_events": journey.exit_events,
            "nodes": graph["nodes"],
            "edges": graph["edges"],
            "created_at": journey.created_at.isoformat(),
            "updated_at": journey.updated_at.isoformat(),
        }


def _values(data: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "name" in data:
        values["name"] = data["name"]
    if "entry" in data:
        values["entry_event"] = str((data["entry"] or {}).get("event") or "")
        values["entry_filter"] = (data["entry"] or {}).get("filter") or None
    if "reentry" in data:
        values["reentry_policy"] = (data["reentry"] or {}).get("policy", "once")
        values["reentry_hours"] = (data["reentry"] or {}).get("hours")
    if "exit_events" in data:
        values["exit_events"] = data["exit_events"]
    return values


def _graph(data: dict[str, Any], partial: bool) -> graphs.Graph | None:
    if partial and "nodes" not in data and "edges" not in data:
        return None
    try:
        return graphs.parse_graph(data.get("nodes", []), data.get("edges", []))
    except graphs.GraphInvalid as invalid:
        raise ValidationError({"graph": invalid.problems}) from None


JOURNEY_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)


class EnrolSerializer(serializers.Serializer):
    user_id = serializers.CharField(max_length=255)


class EnrolResultSerializer(serializers.Serializer):
    run_id = serializers.UUIDField(allow_null=True)
    enrolled = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True, help_text="Why the user was not let in, or empty.")


@extend_schema_view(
    retrieve=extend_schema(parameters=[JOURNEY_ID]),
    partial_update=extend_schema(parameters=[JOURNEY_ID]),
    destroy=extend_schema(parameters=[JOURNEY_ID]),
    activate=extend_schema(parameters=[JOURNEY_ID]),
    pause=extend_schema(parameters=[JOURNEY_ID]),
    archive=extend_schema(parameters=[JOURNEY_ID]),
    duplicate=extend_schema(parameters=[JOURNEY_ID]),
    stats=extend_schema(parameters=[JOURNEY_ID]),
    enrol=extend_schema(parameters=[JOURNEY_ID]),
)
class JourneyViewSet(viewsets.ViewSet):
    serializer_class = JourneySerializer
    lookup_value_regex = r"\d+"

    def _get(self, request: Request, pk: str) -> Journey:
        journey = journey_get(project=request.project, journey_id=pk)  # type: ignore[attr-defined]
        if journey is None:
            raise Http404
        return journey

    def _save(self, request: Request, journey: Journey | None, partial: bool) -> Response:
        serializer = JourneySerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        graph = _graph(data, partial)
        try:
            if journey is None:
                journey = journey_create(project=request.project, values=_values(data), graph=graph or graphs.Graph((), ()))  # type: ignore[attr-defined]
            else:
                journey = journey_update(journey=journey, values=_values(data), graph=graph)
        except JourneyInvalid as invalid:
            return Response({"journey": invalid.problems}, status=status.HTTP_400_BAD_REQUEST)
        return Response(JourneySerializer(journey).data, status=status.HTTP_200_OK if partial else status.HTTP_201_CREATED)

    @extend_schema(responses=JourneySerializer(many=True))
    def list(self, request: Request) -> Response:
        return Response(JourneySerializer(journey_list(project=request.project), many=True).data)  # type: ignore[attr-defined]

    @extend_schema(request=JourneySerializer, responses={201: JourneySerializer})
    def create(self, request: Request) -> Response:
        return self._save(request, None, partial=False)

    @extend_schema(responses=JourneySerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(JourneySerializer(self._get(request, pk)).data)

    @extend_schema(request=JourneySerializer, responses=JourneySerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        return self._save(request, self._get(request, pk), partial=True)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        journey = self._get(request, pk)
        if journey.status == Journey.Status.ACTIVE:
            raise ValidationError({"journey": ["Pause or archive an active journey before deleting it."]})
        journey.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _transition(self, request: Request, pk: str, change: Any) -> Response:
        try:
            journey = change(journey=self._get(request, pk))
        except JourneyInvalid as invalid:
            return Response({"journey": invalid.problems}, status=status.HTTP_400_BAD_REQUEST)
        return Response(JourneySerializer(journey).data)

    @extend_schema(request=None, responses=JourneySerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk: str) -> Response:
        return self._transition(request, pk, journey_activate)

    @extend_schema(request=None, responses=JourneySerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str) -> Response:
        return self._transition(request, pk, journey_pause)

    @extend_schema(request=None, responses=JourneySerializer)
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk: str) -> Response:
        return self._transition(request, pk, journey_archive)

    @extend_schema(request=None, responses={201: JourneySerializer})
    @action(detail=True, methods=["post"])
    def duplicate(self, request: Request, pk: str) -> Response:
        copy = journey_duplicate(journey=self._get(request, pk))
        return Response(JourneySerializer(copy).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"])
    def stats(self, request: Request, pk: str) -> Response:
        return Response(journey_stats(journey=self._get(request, pk)))

    @extend_schema(request=EnrolSerializer, responses={201: EnrolResultSerializer, 200: EnrolResultSerializer})
    @action(detail=True, methods=["post"])
    def enrol(self, request: Request, pk: str) -> Response:
        """Entry through the API: start a run for a user, if the journey's rules let them in."""
        journey = self._get(request, pk)
        serializer = EnrolSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        end_user = end_user_get(project=request.project, user_id=serializer.validated_data["user_id"])  # type: ignore[attr-defined]
        if end_user is None:
            raise ValidationError({"user_id": ["No such user in this project."]})
        if journey.status != Journey.Status.ACTIVE:
            raise ValidationError({"journey": ["Only an active journey enrols users."]})
        run, refused = journey_enrol_or_why_not(journey=journey, end_user=end_user)
        if run is None:
            # Nothing was created: 200 with the reason, so a caller can tell "not now" from "done".
            return Response({"run_id": None, "enrolled": False, "reason": refused})
        return Response({"run_id": str(run.pk), "enrolled": True, "reason": ""}, status=status.HTTP_201_CREATED)


class EventSerializer(serializers.Serializer):
    user_id = serializers.CharField(max_length=255)
    type = serializers.CharField(max_length=200)
    data = serializers.DictField(required=False, default=dict)  # type: ignore[assignment]
    event_id = serializers.CharField(max_length=200, required=False, allow_null=True, default=None)


class EventsView(APIView):
    """POST /api/v1/events: one event or a list; users are created when they do not exist."""

    @extend_schema(request=EventSerializer(many=True), responses={200: OpenApiTypes.OBJECT})
    @idempotent
    def post(self, request: Request) -> Response:
        many = isinstance(request.data, list)
        if many and len(request.data) > MAX_EVENTS_PER_CALL:
            raise ValidationError({"events": [f"At most {MAX_EVENTS_PER_CALL} events per call."]})
        serializer = EventSerializer(data=request.data, many=many)
        serializer.is_valid(raise_exception=True)
        results = []
        for item in serializer.validated_data if many else [serializer.validated_data]:
            end_user = end_user_get(project=request.project, user_id=item["user_id"])  # type: ignore[attr-defined]
            if end_user is None:
                end_user, _ = end_user_put(project=request.project, user_id=item["user_id"], attributes={}, tags={})  # type: ignore[attr-defined]
            outcome = event_ingest(
                project=request.project,  # type: ignore[attr-defined]
                end_user=end_user,
                type=item["type"],
                data=item["data"],
                event_id=item["event_id"],
            )
            results.append(
                {
                    "event_id": outcome.event.event_id,
                    "recorded": outcome.recorded,
                    "enrolled_runs": outcome.enrolled_run_ids,
                    "exited_runs": outcome.exited_runs,
                }
            )
        return Response({"events": results} if many else results[0])
