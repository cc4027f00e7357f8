"""Celery tasks of the contacts app. Late acks (settings): a killed worker's message runs again."""
import logging

from celery import shared_task

from . import chain, registration

log = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def send_notification(notification_id):
    chain.send(notification_id)


@shared_task(ignore_result=True)
def sweep_notifications():
    return chain.sweep()


@shared_task(ignore_result=True)
def enforce_registrations():
    return registration.enforce_deadlines()
