//! The default of each configuration key that has one (serde's `default = "defaults::…"`).

pub fn retry_seconds() -> u64 {
    60
}
pub fn user_prefix() -> String {
    "relais_".to_owned()
}
pub fn alias_prefix() -> String {
    "relais_".to_owned()
}
pub fn max_connections() -> u32 {
    8
}
pub fn yes() -> bool {
    true
}
pub fn max_attempts() -> u32 {
    8
}
pub fn retention_days() -> u32 {
    7
}
pub fn lease_seconds() -> u32 {
    120
}
pub fn master_key_file() -> super::PathBuf {
    super::PathBuf::from("relais.key")
}

pub fn max_removal_percent() -> u32 {
    10
}
pub fn national_name() -> String {
    "PCF — national".to_owned()
}
pub fn concurrency() -> u32 {
    8
}
pub fn drift_interval_minutes() -> u32 {
    1440
}
pub fn provisioning_lease_seconds() -> u32 {
    60
}
pub fn invitation_days() -> u32 {
    14
}
pub fn mail_from() -> String {
    "Relais <relais@localhost>".to_owned()
}
pub fn ghost_prefix() -> String {
    "courriel_".to_owned()
}
pub fn inbound_protocol() -> super::InboundProtocol {
    super::InboundProtocol::Smtp
}
pub fn mail_retention_days() -> u32 {
    30
}
pub fn web_max_connections() -> u32 {
    1024
}
pub fn header_timeout_seconds() -> u64 {
    15
}
pub fn body_timeout_seconds() -> u64 {
    60
}
pub fn trusted_proxies() -> Vec<super::IpNet> {
    ["127.0.0.0/8", "::1/128"].iter().filter_map(|net| net.parse().ok()).collect()
}
pub fn inbound_max_connections() -> u32 {
    100
}
/// RFC 5321 §4.5.3.2 asks for at least 5 minutes waiting for a command.
pub fn inbound_timeout_seconds() -> u64 {
    300
}
pub fn answers_per_hour() -> u32 {
    5
}
pub fn default_mode() -> super::DeliveryMode {
    super::DeliveryMode::Daily
}
pub fn digest_time() -> String {
    "07:00".to_owned()
}
pub fn weekly_day() -> u32 {
    1
}
pub fn inbound_auth() -> super::InboundAuth {
    super::InboundAuth::Upstream
}
pub fn max_inbound_bytes() -> u64 {
    10 * 1024 * 1024
}
pub fn max_attachment_bytes() -> u64 {
    2 * 1024 * 1024
}
pub fn bounce_limit() -> u32 {
    4
}
pub fn smtp_concurrency() -> u32 {
    8
}
pub fn flood_messages() -> u32 {
    10
}
pub fn flood_seconds() -> u32 {
    10
}
pub fn flood_mute_seconds() -> u32 {
    600
}
