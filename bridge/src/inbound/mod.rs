pub mod auth_results;
pub mod smtp;
pub mod strip;
