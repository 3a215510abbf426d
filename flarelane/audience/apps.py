from django.apps import AppConfig


class AudienceConfig(AppConfig):
    name = "flarelane.audience"
    label = "audience"
    verbose_name = "Audience"

    def ready(self) -> None:
        from flarelane.audience import schema  # noqa: F401  (registers the API key scheme)
