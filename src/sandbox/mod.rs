//! The local world for the drill and the tests: DNS, origins, status pages, the sandbox
//! Cloudflare API and the Workers runtime on loopback, each started on 127.0.0.1:0 and stopped
//! when its handle drops.

pub mod cloudflare;
pub mod dns;
pub mod http;
pub mod origin;
pub mod workerd;
