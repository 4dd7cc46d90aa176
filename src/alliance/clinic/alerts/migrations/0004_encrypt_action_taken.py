"""What staff wrote about an alert, encrypted at rest: the column stays text, existing values are encrypted in place."""

from alliance.clinic.encrypted import decrypt_columns, encrypt_columns
from django.db import migrations
import alliance.clinic.crypto


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0003_one_key_scheme'),
    ]

    operations = [
        migrations.AlterField(
            model_name='alert',
            name='action_taken',
            field=alliance.clinic.crypto.EncryptedTextField(blank=True),
        ),
        migrations.RunPython(
            encrypt_columns('alerts_alert', ['action_taken']), decrypt_columns('alerts_alert', ['action_taken'])
        ),
    ]
