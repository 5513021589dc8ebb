"""A member reading their federation's announcements with matrix-nio (an independent client).

Usage: nio_reader.py HOMESERVER USER_ID PASSWORD ROOM_ALIAS
Logs in, accepts pending invitations (the federation space), joins the room by its alias, and
prints one JSON line with the bodies of its latest messages, oldest first.
"""

import asyncio
import json
import sys

from nio import (AsyncClient, JoinResponse, LoginResponse, RoomMessagesResponse, RoomResolveAliasResponse,
                 SyncResponse)


async def main():
    base_url, user_id, password, alias = sys.argv[1:5]
    client = AsyncClient(base_url, user_id)
    try:
        login = await client.login(password, device_name="nio reader")
        if not isinstance(login, LoginResponse):
            sys.exit(f"login failed: {login}")
        sync = await client.sync(timeout=0, full_state=True)
        if not isinstance(sync, SyncResponse):
            sys.exit(f"sync failed: {sync}")
        for room_id in list(client.invited_rooms):
            await client.join(room_id)
        resolved = await client.room_resolve_alias(alias)
        if not isinstance(resolved, RoomResolveAliasResponse):
            sys.exit(f"cannot resolve {alias}: {resolved}")
        joined = await client.join(resolved.room_id)
        if not isinstance(joined, JoinResponse):
            sys.exit(f"cannot join {alias}: {joined}")
        messages = await client.room_messages(resolved.room_id, start="", limit=50)
        if not isinstance(messages, RoomMessagesResponse):
            sys.exit(f"cannot read {alias}: {messages}")
        bodies = [e.source["content"].get("body") for e in reversed(messages.chunk)
                  if e.source.get("type") == "m.room.message"]
        print(json.dumps({"room_id": resolved.room_id, "bodies": bodies}))
    finally:
        await client.close()


asyncio.run(main())
