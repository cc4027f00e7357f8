"""Who may still use an open console socket, and the changes that make the sockets ask again.

A websocket is authenticated once, at the handshake; its session and its user's rights can end
while it stays open. So the console's consumer (escalation.consumers) asks `current_user` again:

- before every action (claim, message, notify, hand back, resolve, risk labels);
- when told to: the signals below send, once the change commits, `console.recheck` to the group
  of every socket of the user concerned (`user_group`), or `console.revoke` to the sockets of a
  session that ended (`session_group`): logout, a session deleted, the user saved, deactivated or
  deleted, their role groups or their products changed;
- every CONSOLE_RECHECK_SECONDS, the backstop for what no signal reports: a session that expired,
  a change made in SQL, a role group deleted, a RolePolicy that now requires two-factor, or a
  recheck lost by the channel layer (which is at-most-once).

The cost: a few small queries per open socket per interval (session, user, role, products).
"""
import logging
from importlib import import_module
from types import SimpleNamespace

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from . import two_factor
from .models import StaffProfile

log = logging.getLogger(__name__)


def user_group(user_id) -> str:
    return f"console.user.{user_id}"


def session_group(session_key) -> str:
    return f"console.session.{session_key}"


def current_user(session_key, user_id):
    """The user, reloaded from the database, if the session `session_key` still signs in `user_id`
    and that user may still use the console; else None.

    Django's own `auth.get_user` decides the first part as it does for every HTTP request: the
    session exists and has not expired, the user exists and is active, and the password has not
    changed since the login (the session hash; a mismatch flushes the session, as over HTTP)."""
    if not session_key:
        return None
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = auth.get_user(SimpleNamespace(session=session))
    if not user.is_authenticated or user.pk != user_id or not user.is_staff:
        return None
    return user if two_factor.passed(user, session) else None


# --- telling open sockets -------------------------------------------------------------------------

def _send(group, event_type):
    try:
        async_to_sync(get_channel_layer().group_send)(group, {"type": event_type})
    except Exception as error:  # Redis down: the periodic re-check closes the socket instead
        log.warning("%s to %s not sent: %s", event_type, group, error.__class__.__name__)


def recheck_users(user_ids):
    """Make every open console of these users re-check its rights, after the transaction commits."""
    for user_id in set(user_ids):
        transaction.on_commit(lambda user_id=user_id: _send(user_group(user_id), "console.recheck"))


def revoke_session(session_key):
    """Close every open console of this session (it ended), after the transaction commits."""
    if session_key:
        transaction.on_commit(lambda: _send(session_group(session_key), "console.revoke"))


def _user_saved(sender, instance, update_fields=None, **kwargs):
    if update_fields is not None and set(update_fields) == {"last_login"}:
        return  # every login saves last_login; nothing about the user's rights changed
    recheck_users([instance.pk])


def _user_deleted(sender, instance, **kwargs):
    recheck_users([instance.pk])


def _profile_changed(sender, instance, **kwargs):
    recheck_users([instance.user_id])


def _session_deleted(sender, instance, **kwargs):
    revoke_session(instance.session_key)


def _logged_out(sender, request, user, **kwargs):
    # Sent before the session is flushed (whose deletion tells the sockets too, with the db engine).
    revoke_session(getattr(request.session, "session_key", None))


def _groups_changed(sender, instance, action, reverse, pk_set, **kwargs):
    """User.groups (the roles): from a user's side, or from a group's (pk_set are then users)."""
    if not reverse:
        if action in ("post_add", "post_remove", "post_clear"):
            recheck_users([instance.pk])
    elif action in ("post_add", "post_remove"):
        recheck_users(pk_set)
    elif action == "pre_clear":  # m2m changes run in a transaction: sent once the clear commits
        recheck_users(instance.user_set.values_list("pk", flat=True))


def _products_changed(sender, instance, action, reverse, pk_set, **kwargs):
    """StaffProfile.products: from a profile's side, or from a product's (pk_set are then profiles)."""
    if not reverse:
        if action in ("post_add", "post_remove", "post_clear"):
            recheck_users([instance.user_id])
    elif action in ("post_add", "post_remove"):
        recheck_users(StaffProfile.objects.filter(pk__in=pk_set).values_list("user_id", flat=True))
    elif action == "pre_clear":
        recheck_users(instance.operators.values_list("user_id", flat=True))


def connect():
    """Called from EscalationConfig.ready()."""
    post_save.connect(_user_saved, sender=User, dispatch_uid="console_rights.user_saved")
    post_delete.connect(_user_deleted, sender=User, dispatch_uid="console_rights.user_deleted")
    post_save.connect(_profile_changed, sender=StaffProfile, dispatch_uid="console_rights.profile_saved")
    post_delete.connect(_profile_changed, sender=StaffProfile, dispatch_uid="console_rights.profile_deleted")
    post_delete.connect(_session_deleted, sender=Session, dispatch_uid="console_rights.session_deleted")
    user_logged_out.connect(_logged_out, dispatch_uid="console_rights.logged_out")
    m2m_changed.connect(_groups_changed, sender=User.groups.through, dispatch_uid="console_rights.groups")
    m2m_changed.connect(_products_changed, sender=StaffProfile.products.through,
                        dispatch_uid="console_rights.products")
