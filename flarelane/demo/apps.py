from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo a newcomer sees with `make run`: seed data, the built-in receiver, run_console.

    It sits on top of every other app (it seeds journeys too), and nothing imports it.
    """

    name = "flarelane.demo"
    label = "demo"
    verbose_name = "Demo"
