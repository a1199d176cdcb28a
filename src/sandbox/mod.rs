//! The local world for the drill and the tests: DNS, origins, status pages, the sandbox
//! Cloudflare API and the Workers runtime on loopback, each started on 127.0.0.1:0 and stopped
//! when its handle drops.

pub mod cloudflare;
pub mod dns;
pub mod edge;
pub mod http;
pub mod origin;
pub mod workerd;
pub mod world;

/// An axum app served on a loopback listener until this handle drops. Dropping stops it at
/// once: a graceful shutdown would wait on open streams and WebSockets, and a sandbox that is
/// gone must not keep answering.
pub struct Served {
    task: tokio::task::JoinHandle<()>,
}

impl Served {
    pub fn spawn(listener: tokio::net::TcpListener, app: axum::Router) -> Self {
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Served { task }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}
