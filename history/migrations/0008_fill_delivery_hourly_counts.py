"""Count the deliveries already finished into the new hourly counts, so the chart above the
history keeps its past after the upgrade. The same as history.services.delivery_hourly_counts_rebuild,
written out in SQL here because a migration must not depend on code that will change."""

from django.db import migrations

INSERT = (
    "INSERT INTO history_deliveryhourlycount (project_id, webhook_id, hour, success, failure) "
    "SELECT project_id, COALESCE(webhook_id, 0), {hour}, "
    "SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END), SUM(CASE WHEN status = 'failure' THEN 1 ELSE 0 END) "
    "FROM history_delivery WHERE status IN ('success', 'failure') GROUP BY 1, 2, 3"
)
# The start of the UTC hour of created_at: SQLite keeps datetimes as UTC text in Django's format.
HOUR = {
    "sqlite": "strftime('%Y-%m-%d %H:00:00', created_at)",
    "postgresql": "date_trunc('hour', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
}


def fill(apps, schema_editor):  # type: ignore[no-untyped-def]
    # Without parameters, so the driver leaves the % of strftime alone.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(INSERT.format(hour=HOUR[schema_editor.connection.vendor]))


def empty(apps, schema_editor):  # type: ignore[no-untyped-def]
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DELETE FROM history_deliveryhourlycount")


class Migration(migrations.Migration):
    dependencies = [("history", "0007_delivery_hourly_count")]
    operations = [migrations.RunPython(fill, empty)]
