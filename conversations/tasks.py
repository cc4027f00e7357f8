"""Celery tasks of the conversations app: the risk second stage. Late acks (settings): a worker
killed mid-review leaves its message to run again, and the sweep is the guarantee."""
import logging

from celery import shared_task

from . import second_stage

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def review_risk(review_id):
    try:
        second_stage.run(review_id)
    except Exception as exc:  # noqa: BLE001
        # The rows stay pending; once the claim's lease runs out the sweep queues them again. The
        # class only: an exception's text can carry a message's text.
        logger.error("risk review %s: failed unexpectedly (%s); the sweep will retry", review_id, type(exc).__name__)
        logger.debug("risk review %s: traceback", review_id, exc_info=True)


@shared_task(ignore_result=True)
def sweep_risk_reviews():
    return second_stage.sweep()
