"""Hash-chain the audit log and make its table append-only (triggers on SQLite and PostgreSQL).

Existing events are numbered in (time, id) order and chained before the triggers are installed.
"""

from django.db import migrations, models

from alliance.clinic.audit.chain import compute_hash, install_guard_sql, remove_guard_sql

GENESIS = "0" * 64


def chain_existing(apps, schema_editor):
    event_model = apps.get_model("audit", "AuditEvent")
    head_model = apps.get_model("audit", "AuditChainHead")
    previous, seq = GENESIS, 0
    for event in event_model.objects.order_by("at", "pk").iterator(chunk_size=2000):
        seq += 1
        event.seq, event.prev_hash, event.details = seq, previous, event.details or {}
        event.hash = compute_hash(event)
        event_model.objects.filter(pk=event.pk).update(
            seq=event.seq, prev_hash=event.prev_hash, hash=event.hash, details=event.details
        )
        previous = event.hash
    head_model.objects.update_or_create(pk=1, defaults={"seq": seq, "hash": previous})


def install_guard(apps, schema_editor):
    for statement in install_guard_sql(schema_editor.connection.vendor):
        schema_editor.execute(statement)


def remove_guard(apps, schema_editor):
    for statement in remove_guard_sql(schema_editor.connection.vendor):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="AuditChainHead",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("seq", models.BigIntegerField(default=0)),
                ("hash", models.CharField(default=GENESIS, max_length=64)),
            ],
        ),
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(null=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="details",
            field=models.JSONField(blank=True, default=dict, help_text="Small facts (never answers or notes)."),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("read", "Read"),
                    ("create", "Create"),
                    ("update", "Update"),
                    ("delete", "Delete"),
                    ("export", "Export"),
                    ("login", "Log in"),
                    ("login_failed", "Failed log-in"),
                    ("logout", "Log out"),
                    ("backup", "Backup"),
                    ("restore", "Restore"),
                ],
                max_length=20,
            ),
        ),
        migrations.RunPython(chain_existing, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(unique=True, help_text="Position in the chain: 1, 2, 3 … without gaps."),
        ),
        migrations.AlterModelOptions(name="auditevent", options={"ordering": ["seq"]}),
        migrations.RunPython(install_guard, remove_guard),
    ]
