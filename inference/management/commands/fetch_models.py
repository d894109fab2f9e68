"""``python manage.py fetch_models PRODUCT [--repository OWNER/NAME]``.

Downloads the product's files whose manifest source is ``huggingface_hub`` into the model
store and checks their SHA-256.  Needs network access; the repository defaults to the
``HF_REPO_<PRODUCT>`` setting, then to the manifest's own.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inference.runtime.hub import fetch_product
from inference.runtime.manifest import ManifestError


class Command(BaseCommand):
    help = "Download a product's hub-sourced weight files into the model store."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("product")
        parser.add_argument("--repository", default=None)

    def handle(self, product: str, repository: str | None, **options: object) -> None:
        repository = repository or getattr(settings, f"HF_REPO_{product.upper()}", None)
        try:
            fetched = fetch_product(settings.MODEL_STORE, product, repository=repository)
        except (ManifestError, ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        if fetched:
            self.stdout.write(f"Fetched {', '.join(fetched)} for {product}.")
        else:
            self.stdout.write(f"Nothing to fetch for {product}: every file is present and valid.")
