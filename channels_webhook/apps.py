from django.apps import AppConfig


class ChannelsWebhookConfig(AppConfig):
    name = "channels_webhook"
    verbose_name = "Webhook channel"
