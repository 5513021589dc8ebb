-- How a referent signed in: 'password', or 'openid' (a Matrix OpenID token, which any widget
-- the referent approved could replay: such a session reads and dry-runs, and applying an import
-- asks for the password again). Sessions from before this column count as 'openid'.
ALTER TABLE web_session ADD COLUMN method TEXT NOT NULL DEFAULT 'openid';
