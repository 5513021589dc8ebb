"""A member reading their federation's announcements with matrix-nio (an independent client).

Usage: nio_reader.py HOMESERVER USER_ID PASSWORD ROOM_ALIAS
Logs in, accepts pending invitations (the federation space), joins the room by its alias, and
prints one JSON line with the bodies of its latest messages, oldest first ("bodies", every
m.room.message as received) and what a client shows of them ("shown": an edit by the message's
own sender replaces its text, a redacted message is gone, edits are not messages of their own).
"""

import asyncio
import json
import sys

from nio import (AsyncClient, JoinResponse, LoginResponse, RoomMessagesResponse, RoomResolveAliasResponse,
                 SyncResponse)


def shown(events):
    """The texts a client shows, oldest first: edits applied (the latest one of the original's own
    sender wins, as the specification says), redacted messages left out."""
    originals, edits = [], {}
    for event in events:
        relation = event["content"].get("m.relates_to") or {}
        if relation.get("rel_type") == "m.replace":
            edits.setdefault(relation.get("event_id"), []).append(event)
        else:
            originals.append(event)
    texts = []
    for event in originals:
        if "redacted_because" in event.get("unsigned", {}) or "body" not in event["content"]:
            continue
        text = event["content"]["body"]
        for edit in edits.get(event["event_id"], []):
            new = edit["content"].get("m.new_content") or {}
            if edit["sender"] == event["sender"] and "body" in new:
                text = new["body"]
        texts.append(text)
    return texts


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
        events = [e.source for e in reversed(messages.chunk) if e.source.get("type") == "m.room.message"]
        bodies = [e["content"].get("body") for e in events]
        print(json.dumps({"room_id": resolved.room_id, "bodies": bodies, "shown": shown(events)}))
    finally:
        await client.close()


asyncio.run(main())
