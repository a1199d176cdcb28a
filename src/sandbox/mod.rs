//! The local world for the drill and the tests: DNS, HTTP origins, edges and status pages on
//! loopback, each started on 127.0.0.1:0 and stopped when its handle drops.

pub mod cloudflare;
pub mod dns;
pub mod http;
