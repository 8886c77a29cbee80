//! JSON API handlers under `/api/v1`: thin — extract, call the store, map.

pub mod auth;
pub mod authorization;
pub mod catalogue;
pub mod data;
pub mod ledger;
pub mod open;
pub mod orgs;
pub mod quality;
pub mod system;
pub mod tickets;
pub mod tokens;
pub mod users;
pub mod workspace;
