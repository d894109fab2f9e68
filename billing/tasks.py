"""Celery tasks of the Stripe usage outbox (the ``default`` queue, not the GPU one)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from billing import stripe_reporting

# The sweep leaves fresh events to the task queued when they were recorded.
SWEEP_GRACE = timedelta(minutes=1)


@shared_task(
    name="billing.tasks.report_usage_event",
    autoretry_for=(stripe_reporting.ReportFailed,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=settings.STRIPE_REPORT_MAX_RETRIES,
)
def report_usage_event(event_id: int) -> bool:
    """Report one billable event; retried with exponential backoff and jitter."""
    return stripe_reporting.report(event_id)


@shared_task(name="billing.tasks.sweep_unreported_usage")
def sweep_unreported_usage() -> int:
    """Queue a report for every billable event still unreported (runs every few minutes)."""
    if not settings.STRIPE_API_KEY:
        return 0
    due = stripe_reporting.unreported_events().filter(created_at__lt=timezone.now() - SWEEP_GRACE)
    event_ids = list(due.values_list("pk", flat=True)[:1000])
    for event_id in event_ids:
        report_usage_event.delay(event_id)
    return len(event_ids)
