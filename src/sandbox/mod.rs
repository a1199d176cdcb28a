//! The local world for `failover drill` and the tests: stand-ins for the outside systems.

pub mod cloudflare;
