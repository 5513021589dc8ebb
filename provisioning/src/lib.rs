//! Provisioning: the membership file reconciled into spaces, rooms and who may enter them.
//!
//! Will own the CSV reader, the pure planner (desired state vs recorded state → a plan) and the
//! executor that applies a plan through the appservice client. Not built yet: see the
//! provisioning issue. The crate exists so the workspace layout and dependency rules are fixed.
