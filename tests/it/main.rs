//! The one integration test binary: drives the real `failover` binary against real servers on
//! loopback (DNS, HTTP, WebSocket, the sandbox Cloudflare API, workerd).

mod cli;
mod cloudflare;
mod diagnose;
mod drill;
mod init;
mod interactive;
mod platforms;
mod runbook;
mod support;
mod tidy;
mod watch;
mod worker;
