"""Apply benchmark: `relais provision` against a real Synapse, side by side with a plain script
making the same homeserver calls with the same parallelism (rooms in parallel, each room's calls
in order). Standard library only. Run by scripts/bench-apply.sh, which starts a fresh Synapse for
each side, so neither runs on a database the other has grown.

The plain script takes the plan from `relais provision --dry-run --json` (against an empty
record), so both make the same calls: create every room (same initial state and power levels)
and link it into its space, set moderators (read + write power levels), invite.
"""

import concurrent.futures
import hashlib
import hmac
import http.client
import json
import subprocess
import sys
import threading
import time
import urllib.parse

MODE, HS, SECRET, AS_TOKEN, CSV, RELAIS, CONFIG, CONCURRENCY, SERVER = sys.argv[1:10]
CONCURRENCY = int(CONCURRENCY)
host, port = urllib.parse.urlparse(HS).hostname, urllib.parse.urlparse(HS).port
local = threading.local()


def call(method, path, body=None, token=AS_TOKEN):
    if not hasattr(local, "conn"):
        local.conn = http.client.HTTPConnection(host, port, timeout=60)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    local.conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    resp = local.conn.getresponse()
    data = resp.read()
    return resp.status, (json.loads(data) if data else {})


def register(localpart):
    _, nonce = call("GET", "/_synapse/admin/v1/register", token=None)
    pw = "bench-" + localpart
    mac = hmac.new(SECRET.encode(), digestmod=hashlib.sha1)
    mac.update(b"\x00".join([nonce["nonce"].encode(), localpart.encode(), pw.encode(), b"notadmin"]))
    status, body = call("POST", "/_synapse/admin/v1/register", {
        "nonce": nonce["nonce"], "username": localpart, "password": pw, "admin": False, "mac": mac.hexdigest(),
    }, token=None)
    if status != 200 and body.get("errcode") != "M_USER_IN_USE":
        raise SystemExit(f"register {localpart}: {status} {body}")


q = urllib.parse.quote
BOT = f"@relais:{SERVER}"
rooms = {}


def power_levels(kind):
    return {"users": {BOT: 100}, "users_default": 0, "events_default": 50 if kind == "announcements" else 0,
            "state_default": 50, "invite": 50, "kick": 50, "ban": 50, "redact": 50,
            "events": {t: 100 for t in ["m.room.power_levels", "m.room.join_rules", "m.room.history_visibility",
                                         "m.room.server_acl", "m.room.tombstone", "m.room.encryption",
                                         "m.space.child", "m.space.parent"]}}


def create(action):
    parent = rooms.get(action["parent"]) if action["parent"] else None
    state = [{"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "shared"}},
             {"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "forbidden"}}]
    if parent and action["kind"] in ("discussion", "announcements"):
        state.append({"type": "m.room.join_rules", "state_key": "", "content": {
            "join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": parent}]}})
    else:
        state.append({"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "invite"}})
    if parent:
        state.append({"type": "m.space.parent", "state_key": parent, "content": {"via": [SERVER], "canonical": True}})
    body = {"room_alias_name": "relais_plain-" + action["room"], "name": action["name"], "visibility": "private",
            "room_version": "10", "preset": "private_chat", "power_level_content_override": power_levels(action["kind"]),
            "initial_state": state}
    if action["kind"] in ("national_space", "federation_space"):
        body["creation_content"] = {"type": "m.space"}
    status, resp = call("POST", "/_matrix/client/v3/createRoom", body)
    assert status == 200, resp
    rooms[action["room"]] = resp["room_id"]
    if parent:
        status, resp = call("PUT", f"/_matrix/client/v3/rooms/{q(parent)}/state/m.space.child/{q(resp['room_id'])}",
                            {"via": [SERVER], "suggested": action["kind"] in ("discussion", "announcements")})
        assert status == 200, resp


def room_queue(actions):
    for a in actions:
        rid = q(rooms[a["room"]])
        if a["type"] == "set_moderators":
            _, levels = call("GET", f"/_matrix/client/v3/rooms/{rid}/state/m.room.power_levels/")
            for m in a["moderators"]:
                levels["users"][m] = 50
            status, resp = call("PUT", f"/_matrix/client/v3/rooms/{rid}/state/m.room.power_levels/", levels)
        else:
            status, resp = call("POST", f"/_matrix/client/v3/rooms/{rid}/invite", {"user_id": a["user_id"]})
        assert status == 200, resp


def plain(actions):
    with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
        # Spaces first, parents before children; then every other room (whatever kinds the plan has).
        creations = [a for a in actions if a["type"] == "create_room"]
        for level in (["national_space"], ["federation_space"]):
            list(pool.map(create, [a for a in creations if a["kind"] in level]))
        list(pool.map(create, [a for a in creations if a["kind"] not in ("national_space", "federation_space")]))
        queues = {}
        for a in actions:
            if a["type"] in ("set_moderators", "invite"):
                queues.setdefault(a["room"], []).append(a)
        list(pool.map(room_queue, queues.values()))


def main():
    users = [line.split(";")[12] for line in open(CSV, encoding="utf-8").read().splitlines()[1:]]
    users = [u for u in users if u]
    t = time.time()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda u: register(u[1:].split(":")[0]), users))
    print(f"{MODE}: registered {len(users)} accounts in {time.time() - t:.1f} s", file=sys.stderr)
    relais = [RELAIS, "--config", CONFIG, "provision", CSV]
    out = subprocess.run(relais + ["--dry-run", "--json"], capture_output=True, text=True, check=True)
    plan = json.loads(out.stdout)
    actions = plan["actions"]
    writes = sum(1 for a in actions if a["type"] in ("create_room", "set_moderators", "invite"))
    t = time.time()
    if MODE == "plain":
        plain(actions)
    else:
        out = subprocess.run(relais + ["--json"], capture_output=True, text=True)
        applied = json.loads(out.stdout)["applied"]
        assert out.returncode == 0 and not applied["failed"], out.stdout[:2000]
    seconds = time.time() - t
    print(json.dumps({"mode": MODE, "members": plan["rows"], "rooms": plan["summary"].get("create_room", 0),
                      "homeserver_writes": writes, "concurrency": CONCURRENCY, "seconds": round(seconds, 2),
                      "members_per_s": round(plan["rows"] / seconds, 1)}))


main()
