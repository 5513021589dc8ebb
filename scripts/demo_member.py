"""Acts as a sample member for the demo: logs in, opens a room with the Relais bot, sends
`!ping` and waits for the bot's answer. Standard library only."""

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def call(base, method, path, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def main():
    base, user, password, bot = sys.argv[1:5]
    login = call(base, "POST", "/_matrix/client/v3/login", body={
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user},
        "password": password,
    })
    token = login["access_token"]
    q = urllib.parse.quote
    invites = call(base, "GET", "/_matrix/client/v3/sync?timeout=0", token).get("rooms", {}).get("invite", {})
    names = []
    for room_id, room in sorted(invites.items()):
        call(base, "POST", f"/_matrix/client/v3/join/{q(room_id)}", token, {})
        for ev in room.get("invite_state", {}).get("events", []):
            if ev.get("type") == "m.room.name":
                names.append(ev["content"].get("name", room_id))
    if names:
        print(f"  {user} accepted her invitations: " + ", ".join(names))
    room = call(base, "POST", "/_matrix/client/v3/createRoom", token, {
        "name": "Bienvenue sur Relais", "preset": "private_chat", "invite": [bot],
    })["room_id"]
    deadline = time.time() + 60
    while bot not in call(base, "GET", f"/_matrix/client/v3/rooms/{q(room)}/joined_members", token)["joined"]:
        if time.time() > deadline:
            sys.exit("the Relais bot did not join the room")
        time.sleep(0.2)
    sent = call(base, "PUT", f"/_matrix/client/v3/rooms/{q(room)}/send/m.room.message/demo{int(time.time()*1000)}",
                token, {"msgtype": "m.text", "body": "!ping"})["event_id"]
    while time.time() < deadline:
        chunk = call(base, "GET", f"/_matrix/client/v3/rooms/{q(room)}/messages?dir=b&limit=20", token)["chunk"]
        for ev in chunk:
            rel = ev.get("content", {}).get("m.relates_to", {}).get("m.in_reply_to", {})
            if ev.get("sender") == bot and rel.get("event_id") == sent:
                print(f"  {user} sent !ping in a new room; the bot answered: {ev['content']['body']}")
                return
        time.sleep(0.2)
    sys.exit("the Relais bot did not answer !ping")


if __name__ == "__main__":
    main()
