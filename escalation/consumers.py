"""The operator console's websocket (`/ws/console/`, frames in docs/api-v1.md and docs/console.md).

The handshake's session is not trusted for the socket's lifetime: rights are re-read before every
action, at once when a logout or an admin's change says so, and every CONSOLE_RECHECK_SECONDS
(escalation.console_rights). A socket whose rights are gone is closed with 4403 (the console goes
to the login page); one whose products or role changed joins its new groups and gets a new snapshot.

Frames from the browser are checked for shape before anything reads them: a malformed one gets an
`error` frame (`invalid_frame`) and the socket stays open.
"""
import asyncio
import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from . import feedback, live, oncall, takeover
from .console_rights import current_user, session_group, user_group

log = logging.getLogger(__name__)
SIGNED_OUT = 4403

# Each action, and its fields: all strings; "?" marks one that may be left out (or null).
ACTIONS = {
    "incident.claim": (lambda user, f: takeover.claim(user, f["incident"]), ("incident",)),
    "message.send": (lambda user, f: takeover.send_message(user, f["incident"], f["text"]), ("incident", "text")),
    "contacts.notify": (lambda user, f: takeover.notify_contacts(user, f["incident"]), ("incident",)),
    "incident.return_to_ai": (lambda user, f: takeover.return_to_ai(user, f["incident"], f.get("note") or ""),
                              ("incident", "note?")),
    "incident.resolve": (lambda user, f: takeover.resolve(user, f["incident"], f["outcome"], f.get("note") or ""),
                         ("incident", "outcome", "note?")),
    # The risk engine's feedback loop (escalation.feedback): a label proposed on one user message.
    "message.mark_not_risk": (lambda user, f: feedback.do_mark_not_risk(user, f["incident"], f["message"]),
                              ("incident", "message")),
    "message.mark_missed_risk": (lambda user, f: feedback.do_mark_missed_risk(user, f["incident"], f["message"],
                                                                              f["level"], f["category"]),
                                 ("incident", "message", "level", "category")),
}


def malformed(frame, fields) -> str | None:
    """Why `frame` does not have the fields an action needs, or None when it does."""
    for field in fields:
        optional = field.endswith("?")
        name = field.rstrip("?")
        value = frame.get(name)
        if value is None and optional:
            continue
        if not isinstance(value, str):
            return f"'{name}' must be a string."
        if "\x00" in value:  # PostgreSQL refuses NUL in text
            return f"'{name}' must not contain NUL characters."
    return None


class ConsoleConsumer(AsyncJsonWebsocketConsumer):
    user = None  # None once signed out: nothing more is read or forwarded
    console_groups: list[str] = []  # the queue's groups (escalation.live); frames from others are dropped
    personal_groups: list[str] = []  # this user's and this session's: where rechecks and revocations come
    rechecker = None

    async def connect(self):
        user = self.scope.get("user")
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        self.lock = asyncio.Lock()  # one re-check at a time: groups are changed in one place
        if user is not None and user.is_authenticated and self.session_key:
            # Joined before the check: a logout or change committed after it still reaches this socket.
            self.personal_groups = [user_group(user.pk), session_group(self.session_key)]
            for group in self.personal_groups:
                await self.channel_layer.group_add(group, self.channel_name)
            user = await database_sync_to_async(current_user)(self.session_key, user.pk)
        else:
            user = None
        if user is None:
            # Accept, then close with 4403: the browser sees "signed out", not a network error to retry.
            await self.accept()
            await self.sign_out()
            return
        self.user = user
        self.console_groups = await database_sync_to_async(live.groups_for_user)(user)
        for group in self.console_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await database_sync_to_async(oncall.connected)(user, self.channel_name)  # who is online
        # Joined first, snapshot second: a frame racing the snapshot arrives after it, never lost.
        await self.send_json(await database_sync_to_async(live.snapshot)(user))
        self.rechecker = asyncio.create_task(self.recheck_periodically())

    async def disconnect(self, code):
        if self.rechecker is not None:
            self.rechecker.cancel()
        await database_sync_to_async(oncall.disconnected)(self.channel_name)
        await self.leave_groups()

    async def leave_groups(self):
        groups = self.console_groups + self.personal_groups
        self.console_groups, self.personal_groups = [], []  # first: frames already queued are dropped
        for group in groups:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def sign_out(self):
        self.user = None
        await self.leave_groups()
        await self.close(code=SIGNED_OUT)

    # --- re-checking rights -----------------------------------------------------------------------

    async def recheck(self):
        """The user as the database has them now, with this socket's groups and queue brought in
        line; None (and the socket closed with 4403) when the session or the right to the console
        is gone."""
        async with self.lock:
            if self.user is None:
                return None
            user = await database_sync_to_async(current_user)(self.session_key, self.user.pk)
            if user is None:
                await self.sign_out()
                return None
            groups = await database_sync_to_async(live.groups_for_user)(user)
            self.user = user
            if groups != self.console_groups:  # products or role changed
                left = [group for group in self.console_groups if group not in groups]
                self.console_groups = groups  # first: frames already queued for a group left are dropped
                for group in left:
                    await self.channel_layer.group_discard(group, self.channel_name)
                for group in groups:
                    await self.channel_layer.group_add(group, self.channel_name)
                await self.send_json(await database_sync_to_async(live.snapshot)(user))
            return user

    async def recheck_periodically(self):
        """The backstop for what no signal reports: an expired session, a change made in SQL, a lost
        recheck (the channel layer is at-most-once)."""
        while self.user is not None:
            await asyncio.sleep(settings.CONSOLE_RECHECK_SECONDS)
            try:
                await self.recheck()
            except Exception:  # the database is away: try again next time, keep the socket
                log.exception("console socket re-check failed")

    async def console_recheck(self, event):
        """Sent to the user's group when their account, role or products changed."""
        await self.recheck()

    async def console_revoke(self, event):
        """Sent to the session's group when it ended (logout, deleted)."""
        if self.user is not None:
            await self.sign_out()

    # --- frames from the browser ------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            frame = json.loads(text_data) if text_data is not None else None
        except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
            frame = None
        if not isinstance(frame, dict):
            await self.send_error("invalid_frame", "A frame is a JSON object.")
            return
        await self.receive_json(frame)

    async def receive_json(self, frame, **kwargs):
        if self.user is None:
            return
        frame_type = frame.get("type")
        if frame_type == "presence.ping":
            await database_sync_to_async(oncall.seen)(self.channel_name)  # still online; no answer
            return
        if not isinstance(frame_type, str):
            await self.send_error("invalid_frame", "'type' must be a string.")
            return
        if frame_type not in ACTIONS:
            await self.send_error("unknown_frame", "Unknown frame type.")
            return
        action, fields = ACTIONS[frame_type]
        problem = malformed(frame, fields)
        if problem:
            incident = frame.get("incident")
            await self.send_error("invalid_frame", problem, incident if isinstance(incident, str) else None)
            return
        user = await self.recheck()  # every action is taken with the rights the user has now
        if user is None:
            return
        try:
            await database_sync_to_async(action)(user, frame)
        except takeover.TakeoverError as error:
            await self.send_error(error.code, error.message, frame["incident"])
        # The result reaches this socket, like every other, as a broadcast frame after commit.

    async def send_error(self, code, message, incident=None):
        await self.send_json({"type": "error", "code": code, "message": message, "incident": incident})

    # --- frames to the browser --------------------------------------------------------------------

    async def console_frame(self, event):
        if self.user is not None and event.get("group") in self.console_groups:
            await self.send_json(event["frame"])
