"""Client identity encrypted at rest: the columns become text, then every existing value is encrypted in place."""

from alliance.clinic.encrypted import decrypt_columns, encrypt_columns
from django.db import migrations
import alliance.clinic.crypto
import alliance.clinic.encrypted


class Migration(migrations.Migration):

    dependencies = [
        ('practice', '0002_client_erased_at'),
    ]

    operations = [
        migrations.AlterField(
            model_name='clientidentity',
            name='date_of_birth',
            field=alliance.clinic.encrypted.EncryptedDateField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='clientidentity',
            name='email',
            field=alliance.clinic.crypto.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name='clientidentity',
            name='name',
            field=alliance.clinic.crypto.EncryptedTextField(),
        ),
        migrations.AlterField(
            model_name='clientidentity',
            name='phone',
            field=alliance.clinic.crypto.EncryptedTextField(blank=True),
        ),
        migrations.RunPython(
            encrypt_columns('practice_clientidentity', ['name', 'email', 'phone', 'date_of_birth']), decrypt_columns('practice_clientidentity', ['name', 'email', 'phone', 'date_of_birth'])
        ),
    ]
