from django.contrib import admin

from flarelane.audience.models import ApiKey, EndUser, Project


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


@admin.register(EndUser)
class EndUserAdmin(admin.ModelAdmin):
    list_display = ["user_id", "name", "email", "tags_summary", "country", "project", "updated_at"]
    list_filter = ["project", "country", "language"]
    search_fields = ["user_id", "email", "name", "phone_number"]

    @admin.display(description="Tags")
    def tags_summary(self, end_user: EndUser) -> str:
        text = ", ".join(f"{key}={value}" for key, value in (end_user.tags or {}).items())
        return text if len(text) <= 80 else text[:77] + "…"

    fieldsets = [
        (None, {"fields": ["project", "user_id"]}),
        ("Attributes", {"fields": ["email", "phone_number", "name", "country", "language", "time_zone"]}),
        ("Tags", {"fields": ["tags"], "description": 'A JSON object, e.g. {"phone_number": "01012345678", "plan": "pro"}.'}),
    ]
