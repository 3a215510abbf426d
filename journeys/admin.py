"""Journeys in the console: the list, a short "new journey" form, and the canvas page.

The graph itself is drawn and saved on the canvas (journeys/static/journeys/canvas.js), which
talks to the REST API with the staff session; nothing here edits nodes or edges. The new-journey
form creates an empty draft through journeys.services and opens its canvas.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from flarelane.audience.models import Project
from journeys import graph as graphs
from journeys.models import Journey, JourneyNode, JourneyRun
from journeys.services import JourneyInvalid, journey_create


def canvas_url(journey_id: object) -> str:
    return reverse("admin:journeys_journey_canvas", args=[journey_id])


class NewJourneyForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.order_by("id"), empty_label=None)
    name = forms.CharField(max_length=200, initial="New journey")
    entry_event = forms.CharField(
        max_length=200, required=False, help_text="The event type that enrols users, e.g. signup. Can be changed on the canvas."
    )


class JourneyNodeInline(admin.TabularInline):
    model = JourneyNode
    fields = ["key", "type", "config"]
    readonly_fields = ["key", "type", "config"]
    extra = 0
    can_delete = False
    verbose_name_plural = "Nodes (edit them on the canvas)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Journey)
class JourneyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "status",
        "entry_event_display",
        "runs_total",
        "runs_in_progress",
        "runs_completed",
        "updated_at",
        "canvas_link",
    ]
    list_filter = ["status", "project"]
    search_fields = ["name", "entry_event"]
    inlines = [JourneyNodeInline]
    readonly_fields = [
        "canvas_link",
        "project",
        "name",
        "status",
        "entry_event",
        "entry_filter",
        "reentry_policy",
        "reentry_hours",
        "exit_events",
        "duplicated_from",
        "activated_at",
        "created_at",
        "updated_at",
    ]
    fields = tuple(readonly_fields)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Journey]:
        in_progress = [JourneyRun.Status.ACTIVE, JourneyRun.Status.WAITING]
        return (
            super()
            .get_queryset(request)
            .select_related("project")
            .annotate(
                run_count=Count("runs"),
                run_in_progress_count=Count("runs", filter=Q(runs__status__in=in_progress)),
                run_completed_count=Count("runs", filter=Q(runs__status=JourneyRun.Status.COMPLETED)),
            )
        )

    @admin.display(description="Entry event", ordering="entry_event")
    def entry_event_display(self, journey: Journey) -> str:
        return journey.entry_event or "(API only)"

    @admin.display(description="Runs", ordering="run_count")
    def runs_total(self, journey: Journey) -> int:
        return getattr(journey, "run_count", 0)

    @admin.display(description="In progress", ordering="run_in_progress_count")
    def runs_in_progress(self, journey: Journey) -> int:
        return getattr(journey, "run_in_progress_count", 0)

    @admin.display(description="Completed", ordering="run_completed_count")
    def runs_completed(self, journey: Journey) -> int:
        return getattr(journey, "run_completed_count", 0)

    @admin.display(description="Canvas")
    def canvas_link(self, journey: Journey) -> str:
        if journey.pk is None:
            return "-"
        return format_html('<a class="button open-canvas" href="{}">Open canvas</a>', canvas_url(journey.pk))

    # The graph and settings change on the canvas, through the API and its services.
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def get_urls(self) -> list[URLPattern]:
        own = [
            path("<int:journey_id>/canvas/", self.admin_site.admin_view(self.canvas_view), name="journeys_journey_canvas"),
        ]
        return own + super().get_urls()

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = NewJourneyForm(request.POST or None)
        problems: list[str] = []
        if request.method == "POST" and form.is_valid():
            try:
                journey = journey_create(
                    project=form.cleaned_data["project"],
                    values={"name": form.cleaned_data["name"], "entry_event": form.cleaned_data["entry_event"].strip()},
                    graph=graphs.Graph(nodes=(), edges=()),
                )
            except JourneyInvalid as invalid:
                problems = invalid.problems
            else:
                return HttpResponseRedirect(canvas_url(journey.pk))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "New journey",
            "form": form,
            "problems": problems,
        }
        return TemplateResponse(request, "journeys/new.html", context)

    def canvas_view(self, request: HttpRequest, journey_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        journey = Journey.objects.select_related("project").filter(pk=journey_id).first()
        if journey is None:
            raise Http404("No journey with this id.")
        may_edit = super().has_change_permission(request, journey)
        config = {
            "journeyId": journey.pk,
            "project": journey.project.slug,
            "apiBase": "/api/v1/",
            "canvasUrl": canvas_url(0).replace("/0/", "/{id}/"),
            "historyUrl": f"{reverse('admin:history_delivery_changelist')}?journey_id={journey.pk}",
            "mayEdit": may_edit,
            "nodeTypes": list(graphs.NODE_TYPES),
            "conditionOps": list(graphs.CONDITION_OPS),
            "reentryPolicies": list(graphs.REENTRY_POLICIES),
        }
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Journey: {journey.name}",
            "is_nav_sidebar_enabled": False,  # the graph needs the width
            "journey": journey,
            "canvas_config": config,
            "history_url": config["historyUrl"],
        }
        return TemplateResponse(request, "journeys/canvas.html", context)


@admin.register(JourneyRun)
class JourneyRunAdmin(admin.ModelAdmin):
    """Where each user is in each journey; runs are moved by the engine only, so this is read-only."""

    list_display = ["end_user", "journey", "node_key", "status", "due_at", "delivery", "created_at", "finished_at"]
    list_filter = ["status", "journey"]
    search_fields = ["end_user__user_id", "journey__name", "node_key"]
    list_select_related = ["end_user", "journey", "delivery"]
    readonly_fields = [
        "journey",
        "end_user",
        "node_key",
        "status",
        "due_at",
        "delivery",
        "entry_event_snapshot",
        "created_at",
        "updated_at",
        "finished_at",
    ]
    fields = tuple(readonly_fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
