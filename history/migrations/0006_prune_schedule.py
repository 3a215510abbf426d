from django.db import migrations

NAME = "Prune old send history"


def create_schedule(apps, schema_editor):  # type: ignore[no-untyped-def]
    # Hourly, so each run removes about an hour's worth of old rows, never a month at once.
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME, defaults={"func": "history.tasks.prune_history", "schedule_type": "H", "repeats": -1}
    )


def remove_schedule(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("history", "0005_send_batch_audience"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]
    operations = [migrations.RunPython(create_schedule, remove_schedule)]
