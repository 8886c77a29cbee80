//! Integration tests: the real server on a free port, over SQLite and
//! PostgreSQL, driven through the client crate and headless Chromium.

mod access;
mod api;
mod authorization;
mod browser;
mod browser_authorization;
mod catalogue;
mod kit;
mod open;
mod sandbox;
mod tickets;
mod workspace;
