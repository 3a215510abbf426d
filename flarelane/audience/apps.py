from django.apps import AppConfig


class AudienceConfig(AppConfig):
    name = "flarelane.audience"
    label = "audience"
    verbose_name = "Audience"
