"""A member, as matrix-nio (an independent Matrix client library) sees Relais's work.

Usage: nio_member.py DISCOVERY_URL USER_ID PASSWORD FEDERATION_SPACE SECTION_ROOM
Discovers the homeserver from DISCOVERY_URL/.well-known/matrix/client, logs in, accepts the
invitations provisioning sent, walks the federation space's hierarchy and joins the section
room found there. Prints one JSON line with what it saw; exits non-zero on any failure.
"""

import asyncio
import json
import sys
import urllib.request

from nio import AsyncClient, JoinResponse, LoginResponse, SpaceGetHierarchyResponse, SyncResponse


async def main():
    discovery, user_id, password, space_name, section_name = sys.argv[1:6]
    with urllib.request.urlopen(discovery + "/.well-known/matrix/client", timeout=10) as resp:
        base_url = json.load(resp)["m.homeserver"]["base_url"]
    client = AsyncClient(base_url, user_id)
    try:
        login = await client.login(password, device_name="nio test")
        if not isinstance(login, LoginResponse):
            sys.exit(f"login failed: {login}")
        sync = await client.sync(timeout=0, full_state=True)
        if not isinstance(sync, SyncResponse):
            sys.exit(f"sync failed: {sync}")
        invited = {room_id: room for room_id, room in client.invited_rooms.items()}
        space_id = next((rid for rid, room in invited.items() if room.name == space_name), None)
        if space_id is None:
            sys.exit(f"no invitation to {space_name!r} among {[r.name for r in invited.values()]}")
        for room_id in invited:
            joined = await client.join(room_id)
            if not isinstance(joined, JoinResponse):
                sys.exit(f"join {room_id} failed: {joined}")
        hierarchy = await client.space_get_hierarchy(space_id)
        if not isinstance(hierarchy, SpaceGetHierarchyResponse):
            sys.exit(f"hierarchy failed: {hierarchy}")
        names = sorted(room.get("name", "") for room in hierarchy.rooms if room.get("room_id") != space_id)
        section = next((r for r in hierarchy.rooms if r.get("name") == section_name), None)
        if section is None:
            sys.exit(f"{section_name!r} not in the space hierarchy: {names}")
        await client.sync(timeout=0, full_state=True)
        print(json.dumps({"homeserver": base_url, "space": space_name, "rooms": names,
                          "joined": sorted(room.name for room in client.rooms.values())}))
    finally:
        await client.close()


asyncio.run(main())
