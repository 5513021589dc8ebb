-- Mail bridge: rooms mirrored to lists, members' choices, the durable outbox and inbound queue.

-- A room mirrored to `<localpart>@<[mail] domain>`.
CREATE TABLE mail_list (
    room_id    TEXT PRIMARY KEY NOT NULL,
    localpart  TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    -- Provisioning's room key: its email subscribers (prov_subscription) receive the list.
    room_key   TEXT,
    enabled    BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Members who asked for a list's mail themselves (`!courriel abonner`, preferences page).
CREATE TABLE mail_optin (
    room_id   TEXT NOT NULL,
    member_id TEXT NOT NULL,
    PRIMARY KEY (room_id, member_id)
);

-- A member's delivery mode for one list (message | daily | weekly | none); absent: the default.
CREATE TABLE mail_pref (
    member_id  TEXT NOT NULL,
    room_id    TEXT NOT NULL,
    mode       TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (member_id, room_id)
);

-- Delivery health of an address: bounces raise the score; past the limit it is disabled.
CREATE TABLE mail_address (
    email          TEXT PRIMARY KEY NOT NULL,
    bounce_score   BIGINT NOT NULL DEFAULT 0,
    last_bounce_at BIGINT,
    disabled_at    BIGINT
);

-- Room messages mirrored by mail, kept until every digest that may carry them is out.
CREATE TABLE mail_message (
    seq           {{serial_key}},
    event_id      TEXT NOT NULL UNIQUE,
    room_id       TEXT NOT NULL,
    sender_name   TEXT NOT NULL,
    author_member TEXT,
    kind          TEXT NOT NULL,
    body          TEXT NOT NULL,
    html          TEXT,
    reply_to      TEXT,
    thread_root   TEXT,
    -- An image or file: its mxc:// URI, type and size (attached to mail under the size limit).
    media_url     TEXT,
    media_type    TEXT,
    media_size    BIGINT,
    origin_ts     BIGINT NOT NULL,
    redacted      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX mail_message_room ON mail_message (room_id, seq);

-- A digest run: the messages with seq in (seq_from, seq_to] for one mode.
CREATE TABLE mail_digest (
    digest_id  {{serial_key}},
    mode       TEXT NOT NULL,
    seq_from   BIGINT NOT NULL,
    seq_to     BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (mode, seq_from)
);

-- One row per (message or digest, member): delivered once, retried with backoff.
CREATE TABLE mail_outbox (
    id          {{serial_key}},
    kind        TEXT NOT NULL,
    ref         TEXT NOT NULL,
    member_id   TEXT NOT NULL,
    email       TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending',
    attempts    BIGINT NOT NULL DEFAULT 0,
    next_at     BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    sent_at     BIGINT,
    error       TEXT,
    UNIQUE (kind, ref, member_id)
);
CREATE INDEX mail_outbox_due ON mail_outbox (state, next_at);

-- Mail received by the listener, kept until posted or refused.
CREATE TABLE mail_inbound (
    id          {{serial_key}},
    received_at BIGINT NOT NULL,
    rcpt        TEXT NOT NULL,
    mail_from   TEXT NOT NULL,
    raw         {{bytes}} NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending',
    attempts    BIGINT NOT NULL DEFAULT 0,
    next_at     BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    outcome     TEXT
);
CREATE INDEX mail_inbound_due ON mail_inbound (state, next_at);
