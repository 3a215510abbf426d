"""Console pages for projects, API keys and users; users are written through the services,
like the API writes them."""

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from flarelane.audience.models import ApiKey, EndUser, Project
from flarelane.audience.services import (
    USER_ATTRIBUTE_FIELDS,
    attribute_problem,
    end_user_delete,
    end_user_put,
    tags_problem,
)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created with `manage.py create_api_key`; only the prefix is ever shown."""

    list_display = ["prefix", "project", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["project"]
    readonly_fields = ["project", "prefix", "created_at", "last_used_at"]
    fields = ["project", "name", "prefix", "created_at", "last_used_at", "revoked_at"]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False


class EndUserForm(forms.ModelForm):
    class Meta:
        model = EndUser
        fields = ["project", "user_id", *USER_ATTRIBUTE_FIELDS, "tags"]

    def clean_email(self) -> str:
        return self._checked_attribute("email")

    def clean_time_zone(self) -> str:
        return self._checked_attribute("time_zone")

    def _checked_attribute(self, field: str) -> str:
        value = self.cleaned_data.get(field) or ""
        problem = attribute_problem(field, value)
        if problem:
            raise forms.ValidationError(problem)
        return value

    def clean_tags(self) -> Any:
        tags = self.cleaned_data.get("tags")
        tags = {} if tags is None else tags
        problem = tags_problem(tags)
        if problem:
            raise forms.ValidationError(problem)
        return tags


@admin.register(EndUser)
class EndUserAdmin(admin.ModelAdmin):
    form = EndUserForm
    list_display = ["user_id", "name", "email", "tags_summary", "country", "project", "updated_view"]
    list_filter = ["project", "country", "language"]
    search_fields = ["user_id", "email", "name", "phone_number"]

    @admin.display(description="Tags")
    def tags_summary(self, end_user: EndUser) -> str:
        text = ", ".join(f"{key}={value}" for key, value in (end_user.tags or {}).items())
        return text if len(text) <= 50 else text[:47] + "…"

    @admin.display(description="Updated", ordering="updated_at")
    def updated_view(self, end_user: EndUser) -> str:
        # One line, so the row fits beside the filters at 1400 px.
        return timezone.localtime(end_user.updated_at).strftime("%Y-%m-%d %H:%M")

    fieldsets = [
        (None, {"fields": ["project", "user_id"]}),
        ("Attributes", {"fields": ["email", "phone_number", "name", "country", "language", "time_zone"]}),
        ("Tags", {"fields": ["tags"], "description": 'A JSON object, e.g. {"phone_number": "01012345678", "plan": "pro"}.'}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: EndUser | None = None) -> list[str]:
        # A user id is the other system's key for the user: renaming it here would detach
        # the user from that system (and from their history), so it is fixed once created.
        return ["project", "user_id"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: EndUser, form: forms.ModelForm, change: bool) -> None:
        saved, _created = end_user_put(
            project=obj.project,
            user_id=obj.user_id,
            attributes={field: getattr(obj, field) for field in USER_ATTRIBUTE_FIELDS},
            tags=obj.tags,
        )
        obj.pk, obj.created_at, obj.updated_at = saved.pk, saved.created_at, saved.updated_at

    def delete_model(self, request: HttpRequest, obj: EndUser) -> None:
        end_user_delete(end_user=obj)

    def delete_queryset(self, request: HttpRequest, queryset: "QuerySet[EndUser]") -> None:
        for end_user in queryset:
            end_user_delete(end_user=end_user)
