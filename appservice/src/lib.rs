//! appservice
