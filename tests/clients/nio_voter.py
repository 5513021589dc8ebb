"""A member answering a poll the way Element does, with matrix-nio (an independent client library).

Usage: nio_voter.py HOMESERVER USER_ID PASSWORD ROOM_ID POLL_EVENT_ID ANSWER_TEXT [ANSWER_TEXT...]
Logs in, reads the poll start event from the room, and sends one MSC3381 response per
ANSWER_TEXT in order (later ones change the vote), each naming the answer id whose text matches.
Prints one JSON line with the question and the answer ids sent; exits non-zero on failure.
"""

import asyncio
import json
import sys

from nio import AsyncClient, LoginResponse, RoomGetEventResponse, RoomSendResponse


async def main():
    base_url, user_id, password, room_id, poll_id, *choices = sys.argv[1:]
    client = AsyncClient(base_url, user_id)
    try:
        login = await client.login(password, device_name="nio voter")
        if not isinstance(login, LoginResponse):
            sys.exit(f"login failed: {login}")
        event = await client.room_get_event(room_id, poll_id)
        if not isinstance(event, RoomGetEventResponse):
            sys.exit(f"cannot read the poll: {event}")
        source = event.event.source
        start = source["content"].get("org.matrix.msc3381.poll.start") or source["content"].get("m.poll")
        if start is None:
            sys.exit(f"not a poll: {source}")
        question = start["question"].get("org.matrix.msc1767.text") or start["question"].get("body")
        answers = {a.get("org.matrix.msc1767.text"): a["id"] for a in start["answers"]}
        sent = []
        for choice in choices:
            if choice not in answers:
                sys.exit(f"{choice!r} is not an answer of {list(answers)}")
            content = {
                "m.relates_to": {"rel_type": "m.reference", "event_id": poll_id},
                "org.matrix.msc3381.poll.response": {"answers": [answers[choice]]},
            }
            resp = await client.room_send(room_id, "org.matrix.msc3381.poll.response", content)
            if not isinstance(resp, RoomSendResponse):
                sys.exit(f"response failed: {resp}")
            sent.append(answers[choice])
        print(json.dumps({"question": question, "sent": sent}))
    finally:
        await client.close()


asyncio.run(main())
