"""The Django project package. Importing it makes the Celery app available to shared tasks."""

from config.celery import app as celery_app

__all__ = ("celery_app",)
