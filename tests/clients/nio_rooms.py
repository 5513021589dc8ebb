"""Where a person is, as matrix-nio (an independent Matrix client library) sees it.

Usage: nio_rooms.py HOMESERVER USER_ID PASSWORD
Logs in with the password, syncs once and prints one JSON line: the ids of the rooms joined and
of those the person is invited to. Exits non-zero on any failure.
"""

import asyncio
import json
import sys

from nio import AsyncClient, LoginResponse, SyncResponse


async def main():
    homeserver, user_id, password = sys.argv[1:4]
    client = AsyncClient(homeserver, user_id)
    try:
        login = await client.login(password, device_name="nio rooms")
        if not isinstance(login, LoginResponse):
            sys.exit(f"login failed: {login}")
        sync = await client.sync(timeout=0, full_state=True)
        if not isinstance(sync, SyncResponse):
            sys.exit(f"sync failed: {sync}")
        print(json.dumps({"joined": sorted(client.rooms), "invited": sorted(client.invited_rooms)}))
    finally:
        await client.close()


asyncio.run(main())
