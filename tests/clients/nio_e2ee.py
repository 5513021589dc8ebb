"""A member with end-to-end encryption, driven line by line: matrix-nio with python-olm, the way
an encrypting client (Element) behaves — its own device keys, Megolm sessions shared with every
device of a room, decryption of what others send.

Usage: nio_e2ee.py HOMESERVER USER_ID PASSWORD STORE_DIR
Reads one JSON command per line on stdin, answers one JSON line on stdout:
  {"op": "create", "name": N, "invite": [USER_ID...], "alias": LOCALPART|null}
                                                            -> {"room_id": ...} (encrypted room)
  {"op": "send", "room": R, "body": B}                      -> {"event_id": ...} (encrypted in
                                                               an encrypted room)
  {"op": "send_raw", "room": R, "type": T, "content": C}    -> {"event_id": ...}
  {"op": "invite", "room": R, "user": U}                    -> {}
  {"op": "wait", "room": R|null, "sender": S, "contains": X, "type": T|null, "reply_to": E|null,
   "timeout": secs}                                         -> {"source": ..., "decrypted": bool,
                                                               "room_id": ...}
  {"op": "quit"}
Invitations are accepted as they come. An error answers {"error": "..."}.
"""

import asyncio
import json
import sys

from nio import (AsyncClient, AsyncClientConfig, Event, KeysQueryError, LoginResponse, MegolmEvent,
                 RoomCreateResponse, RoomInviteResponse, RoomSendResponse)


class Member:
    def __init__(self, base_url, user_id, store):
        config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
        self.client = AsyncClient(base_url, user_id, store_path=store, config=config)
        self.seen = []  # (room_id, source, decrypted)
        self.undecrypted = []  # (room_id, MegolmEvent): their key may come in a later sync
        self.client.add_event_callback(self.on_event, Event)

    async def on_event(self, room, event):
        if isinstance(event, MegolmEvent):
            self.undecrypted.append((room.room_id, event))
            return
        self.seen.append((room.room_id, event.source, bool(getattr(event, "decrypted", False))))

    def retry_decryption(self):
        still = []
        for room_id, event in self.undecrypted:
            try:
                decrypted = self.client.decrypt_event(event)
            except Exception:  # nio raises when the key is still missing
                still.append((room_id, event))
                continue
            self.seen.append((room_id, decrypted.source, True))
        self.undecrypted = still

    async def sync_forever(self):
        while True:
            await self.client.sync(timeout=1000, full_state=False)
            self.retry_decryption()
            for room_id in list(self.client.invited_rooms):
                await self.client.join(room_id)
            if self.client.should_upload_keys:
                await self.client.keys_upload()
            if self.client.should_query_keys:
                await self.client.keys_query()

    async def create(self, cmd):
        initial = [{"type": "m.room.encryption", "state_key": "",
                    "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]
        resp = await self.client.room_create(name=cmd["name"], invite=cmd.get("invite", []),
                                             initial_state=initial, alias=cmd.get("alias"))
        if not isinstance(resp, RoomCreateResponse):
            return {"error": str(resp)}
        # Until a sync shows the room's encryption, nio would send in clear: wait for it.
        for _ in range(500):
            room = self.client.rooms.get(resp.room_id)
            if room is not None and room.encrypted:
                return {"room_id": resp.room_id}
            await asyncio.sleep(0.02)
        return {"error": f"the new room {resp.room_id} never showed as encrypted"}

    async def send(self, room_id, event_type, content):
        # A room seen by no sync yet is not known to be encrypted: wait for it.
        for _ in range(100):
            if room_id in self.client.rooms:
                break
            await asyncio.sleep(0.1)
        await self.client.joined_members(room_id)
        room = self.client.rooms.get(room_id)
        if room is not None and room.encrypted:
            await self.share_keys(room_id)
        resp = await self.client.room_send(room_id, event_type, content, ignore_unverified_devices=True)
        if not isinstance(resp, RoomSendResponse):
            return {"error": str(resp)}
        return {"event_id": resp.event_id}

    async def share_keys(self, room_id):
        """Gives every device of the room the room key before a message goes, as Element does:
        a key query, a one-time-key claim or a to-device send that failed is retried (nio alone
        goes on without that device, whose owner then cannot read the message)."""
        olm = self.client.olm
        for _ in range(5):
            if self.client.should_query_keys:
                if isinstance(await self.client.keys_query(), KeysQueryError):
                    await asyncio.sleep(0.5)
                    continue
            if olm.should_share_group_session(room_id):
                await self.client.share_group_session(room_id, ignore_unverified_devices=True)
            session = olm.outbound_group_sessions.get(room_id)
            if session is None:
                return
            done = session.users_shared_with | session.users_ignored
            missing = [(user, device.id) for user in self.client.rooms[room_id].users
                       for device in olm.device_store.active_user_devices(user)
                       if device.id != self.client.device_id and (user, device.id) not in done]
            if not missing:
                return
            print(f"room key not delivered to {missing}: sharing a new one", file=sys.stderr, flush=True)
            olm.outbound_group_sessions.pop(room_id, None)
            await asyncio.sleep(0.5)

    def matches(self, cmd, room_id, source):
        if cmd.get("room") and room_id != cmd["room"]:
            return False
        if cmd.get("sender") and source.get("sender") != cmd["sender"]:
            return False
        if cmd.get("type") and source.get("type") != cmd["type"]:
            return False
        content = source.get("content", {})
        if cmd.get("contains") and cmd["contains"] not in json.dumps(content, ensure_ascii=False):
            return False
        if cmd.get("reply_to"):
            relates = content.get("m.relates_to", {})
            if relates.get("m.in_reply_to", {}).get("event_id") != cmd["reply_to"]:
                return False
        return True

    async def wait(self, cmd):
        deadline = asyncio.get_event_loop().time() + cmd.get("timeout", 60)
        while asyncio.get_event_loop().time() < deadline:
            for room_id, source, decrypted in self.seen:
                if self.matches(cmd, room_id, source):
                    return {"source": source, "decrypted": decrypted, "room_id": room_id}
            await asyncio.sleep(0.02)
        return {"error": f"nothing matched {cmd} in {len(self.seen)} events "
                         f"({len(self.undecrypted)} never decrypted)"}


async def main():
    base_url, user_id, password, store = sys.argv[1:5]
    member = Member(base_url, user_id, store)
    client = member.client
    login = await client.login(password, device_name="nio e2ee")
    if not isinstance(login, LoginResponse):
        sys.exit(f"login failed: {login}")
    if client.should_upload_keys:
        await client.keys_upload()
    syncing = asyncio.create_task(member.sync_forever())
    loop = asyncio.get_event_loop()
    print(json.dumps({"ready": True, "device_id": client.device_id}), flush=True)
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            cmd = json.loads(line)
            op = cmd["op"]
            if op == "quit":
                break
            try:
                if op == "create":
                    answer = await member.create(cmd)
                elif op == "send":
                    answer = await member.send(cmd["room"], "m.room.message",
                                               {"msgtype": "m.text", "body": cmd["body"]})
                elif op == "send_raw":
                    answer = await member.send(cmd["room"], cmd["type"], cmd["content"])
                elif op == "invite":
                    resp = await client.room_invite(cmd["room"], cmd["user"])
                    answer = {} if isinstance(resp, RoomInviteResponse) else {"error": str(resp)}
                elif op == "wait":
                    answer = await member.wait(cmd)
                else:
                    answer = {"error": f"unknown op {op}"}
            except Exception as e:  # the test reads the reason
                answer = {"error": repr(e)}
            print(json.dumps(answer), flush=True)
    finally:
        syncing.cancel()
        await client.close()


asyncio.run(main())
