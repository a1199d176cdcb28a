//! The local world for the drill and the tests: origin, runtime, DNS, Cloudflare API.

pub mod origin;
pub mod workerd;
