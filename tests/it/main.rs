//! The one integration test binary: drives the real `failover` binary against real servers on
//! loopback (DNS, HTTP, WebSocket, the sandbox Cloudflare API, workerd).

mod ci;
mod cli;
mod cloudflare;
mod diagnose;
mod drill;
mod init;
mod interactive;
mod manners;
mod platforms;
mod runbook;
mod standby;
mod support;
mod tidy;
mod watch;
mod whoami;
mod worker;
