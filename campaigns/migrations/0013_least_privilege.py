# Least privilege: a permission for requests to ITNIO that spend nothing, one for regenerating
# push URLs (with the old token kept for a grace period), and https:// only for base URLs.

import campaigns.validators
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0012_push_inbox_lean'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='itnioaccount',
            options={'ordering': ['name'], 'permissions': [('place_calls', 'Can place calls and spend money through ITNIO'), ('manage_credentials', 'Can see and change ITNIO credentials'), ('query_itnio', 'Can ask ITNIO for records, balances and lists (spends nothing)')], 'verbose_name': 'ITNIO account', 'verbose_name_plural': 'ITNIO accounts'},
        ),
        migrations.AlterModelOptions(
            name='itnioapp',
            options={'ordering': ['account__name', 'app_id'], 'permissions': [('rotate_push_token', "Can regenerate an app's push URL")], 'verbose_name': 'ITNIO app', 'verbose_name_plural': 'ITNIO apps'},
        ),
        migrations.AddField(
            model_name='itnioapp',
            name='previous_push_token',
            field=models.CharField(blank=True, editable=False, max_length=64, null=True, unique=True, verbose_name='previous push token'),
        ),
        migrations.AddField(
            model_name='itnioapp',
            name='previous_push_token_expires_at',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='previous push URL works until'),
        ),
        migrations.AlterField(
            model_name='itnioaccount',
            name='base_url',
            field=models.URLField(blank=True, help_text="Empty: the portal's ITNIO_BASE_URL. Only superusers may change it; https:// only.", validators=[campaigns.validators.validate_base_url], verbose_name='base URL override'),
        ),
    ]
