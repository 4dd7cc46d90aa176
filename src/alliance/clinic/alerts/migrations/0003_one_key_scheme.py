"""One dedup-key scheme for every alert: "<client id>:<finding key>" (docs/alerts.md).

Risk alerts were keyed by check-in ("risk:checkin:<pk>"); they become "<client>:risk:<instrument>:session-<N>"
(the session of the check-in's appointment), or "<client>:risk:<instrument>:checkin-<pk>" for a check-in without
one. Two risk alerts of one instrument and session (the old scheme allowed that) keep the second on its check-in
key. The migration also fills in each alert's session and the severity of the old kinds.
"""

from typing import Any

from django.db import migrations

SEVERITY = {"risk": 4, "deterioration": 3, "low_alliance": 2}


def forwards(apps: Any, schema_editor: Any) -> None:
    Alert = apps.get_model("alerts", "Alert")
    taken = set(Alert.objects.values_list("dedup_key", flat=True))
    for alert in Alert.objects.select_related("checkin__appointment").order_by("pk"):
        changed = []
        session = None
        if alert.checkin is not None and alert.checkin.appointment is not None:
            session = alert.checkin.appointment.session_number
        if alert.session is None and session is not None:
            alert.session = session
            changed.append("session")
        if alert.kind in SEVERITY and alert.severity != SEVERITY[alert.kind]:
            alert.severity = SEVERITY[alert.kind]
            changed.append("severity")
        if alert.dedup_key.startswith("risk:checkin:") and alert.checkin is not None:
            instrument = alert.checkin.instrument
            key = f"{alert.client_id}:risk:{instrument}:session-{session}" if session is not None else None
            if key is None or key in taken:
                key = f"{alert.client_id}:risk:{instrument}:checkin-{alert.checkin_id}"
            taken.discard(alert.dedup_key)
            taken.add(key)
            alert.dedup_key = key
            changed.append("dedup_key")
        if changed:
            alert.save(update_fields=changed)


def backwards(apps: Any, schema_editor: Any) -> None:
    Alert = apps.get_model("alerts", "Alert")
    for alert in Alert.objects.filter(kind="risk", checkin__isnull=False, dedup_key__contains=":risk:"):
        alert.dedup_key = f"risk:checkin:{alert.checkin_id}"
        alert.save(update_fields=["dedup_key"])


class Migration(migrations.Migration):
    dependencies = [("alerts", "0002_monitoring")]

    operations = [migrations.RunPython(forwards, backwards)]
