"""The operator console's websocket (`/ws/console/`, frames as in docs/api-v1.md)."""
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from . import live, oncall, takeover, two_factor

log = logging.getLogger(__name__)

ACTIONS = {
    "incident.claim": lambda user, f: takeover.claim(user, f.get("incident")),
    "message.send": lambda user, f: takeover.send_message(user, f.get("incident"), f.get("text")),
    "contacts.notify": lambda user, f: takeover.notify_contacts(user, f.get("incident")),
    "incident.return_to_ai": lambda user, f: takeover.return_to_ai(user, f.get("incident"), f.get("note", "")),
    "incident.resolve": lambda user, f: takeover.resolve(user, f.get("incident"), f.get("outcome"), f.get("note", "")),
}


class ConsoleConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff or not await database_sync_to_async(
                two_factor.passed)(user, self.scope["session"]):
            # Accept, then close with 4403: the browser sees "signed out", not a network error to retry.
            await self.accept()
            await self.close(code=4403)
            return
        self.user = user
        self.console_groups = await database_sync_to_async(live.groups_for_user)(user)
        for group in self.console_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await database_sync_to_async(oncall.connected)(user, self.channel_name)  # who is online
        # Joined first, snapshot second: a frame racing the snapshot arrives after it, never lost.
        await self.send_json(await database_sync_to_async(live.snapshot)(user))

    async def disconnect(self, code):
        if getattr(self, "user", None) is not None:
            await database_sync_to_async(oncall.disconnected)(self.channel_name)
        for group in getattr(self, "console_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, frame, **kwargs):
        if isinstance(frame, dict) and frame.get("type") == "presence.ping":
            await database_sync_to_async(oncall.seen)(self.channel_name)  # still online; no answer
            return
        action = ACTIONS.get(frame.get("type")) if isinstance(frame, dict) else None
        if action is None:
            await self.send_error("unknown_frame", "Unknown frame type.")
            return
        try:
            await database_sync_to_async(action)(self.user, frame)
        except takeover.TakeoverError as error:
            await self.send_error(error.code, error.message, frame.get("incident"))
        # The result reaches this socket, like every other, as a broadcast frame after commit.

    async def decode_json(self, text_data):
        import json

        try:
            return json.loads(text_data)
        except ValueError:
            return None

    async def send_error(self, code, message, incident=None):
        await self.send_json({"type": "error", "code": code, "message": message, "incident": incident})

    async def console_frame(self, event):
        await self.send_json(event["frame"])
