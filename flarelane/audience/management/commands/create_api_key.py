from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from flarelane.audience.models import Project
from flarelane.audience.services import api_key_issue, project_get_or_create


class Command(BaseCommand):
    help = "Create an API key for a project (creating the project if needed). The key is the last line printed."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--name", default="", help="a label for the key")

    def handle(self, *args: Any, **options: Any) -> None:
        existed = Project.objects.filter(slug=options["project"]).exists()
        project = project_get_or_create(slug=options["project"])
        if not existed:
            self.stderr.write(f"Created a new, empty project '{project.slug}'.")
        issued = api_key_issue(project=project, name=options["name"])
        self.stderr.write(f"API key for project '{project.slug}' (shown once, store it now):")
        self.stdout.write(issued.plaintext)
