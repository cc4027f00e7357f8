"""Celery tasks. Late acks (settings): a worker killed mid-task leaves its message to run again."""
import logging

from celery import shared_task

from . import webhooks

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def deliver_webhook(event_id):
    try:
        webhooks.deliver(event_id)
    except Exception as exc:  # noqa: BLE001
        # The row stays pending; once the claim's lease runs out the sweep queues it again. The
        # class only: an exception's text can carry data from the event.
        logger.error("webhook %s: attempt failed unexpectedly (%s); the sweep will retry", event_id, type(exc).__name__)
        logger.debug("webhook %s: traceback", event_id, exc_info=True)


@shared_task(ignore_result=True)
def sweep_webhooks():
    return webhooks.sweep()


@shared_task(ignore_result=True)
def escalate_overdue():
    from .escalate import escalate_overdue as run

    return run()


@shared_task(ignore_result=True)
def purge_expired():
    from .retention import purge

    return purge()
