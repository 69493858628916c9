# Append-only marks of changed days replace the one-row-per-day dirty table, so a figures
# refresh needs no lock on campaigns_call (campaigns/services/reports.py); periodic jobs record
# when their runs wait and finish, so the admin can tell an overdue one (campaigns/scheduler.py).

from django.db import migrations, models

LEGACY = "campaigns_callstatdirtyday"
MARKS = "campaigns_callstatmark"


def to_marks(apps, schema_editor):
    from campaigns.triggers import drop_call_triggers, ensure_call_triggers

    connection = schema_editor.connection
    drop_call_triggers(connection)  # SQLite would keep the old ones (CREATE ... IF NOT EXISTS)
    schema_editor.execute(f"INSERT INTO {MARKS} (day) SELECT day FROM {LEGACY} ORDER BY day")
    ensure_call_triggers(connection, table=MARKS)


def to_dirty_days(apps, schema_editor):
    from campaigns.triggers import drop_call_triggers, ensure_call_triggers

    connection = schema_editor.connection
    drop_call_triggers(connection)
    schema_editor.execute(f"INSERT INTO {LEGACY} (day) SELECT DISTINCT day FROM {MARKS}")
    ensure_call_triggers(connection, table=LEGACY)


class Migration(migrations.Migration):

    dependencies = [
        ("campaigns", "0009_push_inbox"),
    ]

    operations = [
        migrations.CreateModel(
            name="CallStatMark",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("day", models.DateField(verbose_name="day (UTC)")),
            ],
            options={
                "verbose_name": "changed day",
                "indexes": [models.Index(fields=["day"], name="callstatmark_day")],
            },
        ),
        migrations.RunPython(to_marks, to_dirty_days),
        migrations.DeleteModel(name="CallStatDirtyDay"),
        migrations.AddField(
            model_name="scheduledjobrun",
            name="waiting_since",
            field=models.DateTimeField(blank=True, null=True, verbose_name="waiting since"),
        ),
        migrations.AddField(
            model_name="scheduledjobrun",
            name="last_finished_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="last finished"),
        ),
    ]
