from django.db import migrations


def create_sweep_schedule(apps, schema_editor):  # type: ignore[no-untyped-def]
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="Sweep due webhook deliveries",
        defaults={"func": "channels_webhook.tasks.sweep", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def remove_sweep_schedule(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("django_q", "Schedule").objects.filter(name="Sweep due webhook deliveries").delete()


class Migration(migrations.Migration):
    dependencies = [("channels_webhook", "0001_initial"), ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")]
    operations = [migrations.RunPython(create_sweep_schedule, remove_sweep_schedule)]
