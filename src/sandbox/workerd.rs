//! The real Workers runtime (workerd) on loopback: finding the binary, running one Worker script
//! with its bindings behind `127.0.0.1:<free port>`, and stopping it when the handle drops.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use command_fds::{CommandFdExt, FdMapping};

/// The workerd release the tests and the benchmark are pinned to (see `package.json`).
pub const PINNED_VERSION: &str = "1.20261117.1";

/// Where npm puts the platform's binary inside `node_modules`.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
const PLATFORM_PACKAGE: &str = "@cloudflare/workerd-linux-64";
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
const PLATFORM_PACKAGE: &str = "@cloudflare/workerd-linux-arm64";
#[cfg(all(target_os = "macos", target_arch = "x86_64"))]
const PLATFORM_PACKAGE: &str = "@cloudflare/workerd-darwin-64";
#[cfg(all(target_os = "macos", target_arch = "aarch64"))]
const PLATFORM_PACKAGE: &str = "@cloudflare/workerd-darwin-arm64";
#[cfg(not(any(
    all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ),
    all(
        target_os = "macos",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )
)))]
const PLATFORM_PACKAGE: &str = "@cloudflare/workerd-unsupported";

const LOG_FILE: &str = "workerd.log";

/// How long workerd may take to report its listening port before we give up.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// workerd could not be found anywhere we look; says where we looked and how to install it.
#[derive(Debug, thiserror::Error)]
#[error(
    "workerd (the Workers runtime) not found; looked at {}; install it with `npm install` in the \
     repository (package.json pins workerd {PINNED_VERSION}) or set FAILOVER_WORKERD=/path/to/workerd",
    .looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
)]
pub struct NotFound {
    pub looked: Vec<PathBuf>,
}

/// Finds the workerd binary: `FAILOVER_WORKERD` (passed in as `env_override`), then this
/// repository's `node_modules`, then `PATH`, then a pinned copy under the user cache dir
/// (`~/.cache/failover/workerd/<version>/workerd`).
pub fn locate(env_override: Option<&str>) -> Result<PathBuf, NotFound> {
    let mut looked = Vec::new();
    if let Some(p) = env_override.filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        // An explicit choice that is wrong is reported, not silently replaced by another binary.
        if p.is_file() {
            return Ok(p);
        }
        return Err(NotFound { looked: vec![p] });
    }
    let in_node_modules = |root: &Path| {
        root.join("node_modules")
            .join(PLATFORM_PACKAGE)
            .join("bin")
            .join("workerd")
    };
    let mut roots = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR"))];
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    for root in roots {
        let p = in_node_modules(&root);
        if p.is_file() {
            return Ok(p);
        }
        looked.push(p);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("workerd");
            if p.is_file() {
                return Ok(real_binary(p));
            }
        }
        looked.push(PathBuf::from("$PATH/workerd"));
    }
    if let Some(p) = cached_binary() {
        if p.is_file() {
            return Ok(p);
        }
        looked.push(p);
    }
    Err(NotFound { looked })
}

/// npm's `bin/workerd` is a node shim; killing the shim would orphan the real runtime, so when
/// the shim is what `PATH` offers, use the platform binary installed next to it.
fn real_binary(found: PathBuf) -> PathBuf {
    let Ok(real) = found.canonicalize() else {
        return found;
    };
    // .../node_modules/workerd/bin/workerd -> .../node_modules/@cloudflare/workerd-*/bin/workerd
    if let Some(node_modules) = real
        .parent()
        .and_then(Path::parent)
        .filter(|pkg| pkg.file_name().is_some_and(|n| n == "workerd"))
        .and_then(Path::parent)
    {
        let platform = node_modules
            .join(PLATFORM_PACKAGE)
            .join("bin")
            .join("workerd");
        if platform.is_file() {
            return platform;
        }
    }
    found
}

/// Where the pinned copy lives in the user's cache: `~/.cache/failover/workerd/<version>/workerd`.
pub fn cached_binary() -> Option<PathBuf> {
    cache_dir().map(|c| {
        c.join("failover")
            .join("workerd")
            .join(PINNED_VERSION)
            .join("workerd")
    })
}

/// Installs the pinned npm package into the user's cache with `npm` and returns the binary
/// ([`cached_binary`]). Blocks for as long as npm takes (a few seconds, about 160 MB).
pub fn install_pinned() -> Result<PathBuf> {
    let target = cached_binary().context(
        "no cache directory (neither XDG_CACHE_HOME nor HOME is set) to install workerd into",
    )?;
    let dir = target.parent().expect("the cached binary has a parent");
    let npm_dir = dir.join("npm");
    std::fs::create_dir_all(&npm_dir)
        .with_context(|| format!("cannot create {}", npm_dir.display()))?;
    let out = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--loglevel=error",
        ])
        .arg("--prefix")
        .arg(&npm_dir)
        .arg(format!("workerd@{PINNED_VERSION}"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            anyhow::Error::new(e).context(format!(
                "workerd is not installed and npm cannot be run to install it; install Node.js \
                 (which brings npm), or install workerd {PINNED_VERSION} yourself and set \
                 FAILOVER_WORKERD=/path/to/workerd"
            ))
        })?;
    if !out.status.success() {
        bail!(
            "npm install workerd@{PINNED_VERSION} failed ({}): {}",
            out.status,
            crate::text::excerpt(&String::from_utf8_lossy(&out.stderr), 400)
        );
    }
    let installed = npm_dir
        .join("node_modules")
        .join(PLATFORM_PACKAGE)
        .join("bin")
        .join("workerd");
    if !installed.is_file() {
        bail!(
            "npm installed workerd@{PINNED_VERSION} but {} is missing (is this platform supported?)",
            installed.display()
        );
    }
    // Moved out of the npm tree (which then goes: the binary is all that is needed), so the
    // cache holds one copy and a half-written binary is never found.
    std::fs::rename(&installed, &target)
        .with_context(|| format!("cannot install workerd at {}", target.display()))?;
    let _ = std::fs::remove_dir_all(&npm_dir);
    Ok(target)
}

fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
}

/// A binding as the Cloudflare upload metadata carries it.
#[derive(Debug, Clone)]
pub enum Binding {
    /// `{"type": "plain_text", "name", "text"}`
    PlainText { name: String, text: String },
    /// `{"type": "json", "name", "json"}`
    Json {
        name: String,
        json: serde_json::Value,
    },
}

impl Binding {
    fn name(&self) -> &str {
        match self {
            Binding::PlainText { name, .. } | Binding::Json { name, .. } => name,
        }
    }
}

/// One Worker to run: its ES module source, bindings and compatibility date.
#[derive(Debug, Clone)]
pub struct WorkerScript {
    pub script: String,
    pub bindings: Vec<Binding>,
    pub compatibility_date: String,
}

/// A running workerd serving one Worker on loopback; stopped when dropped.
pub struct Workerd {
    child: Child,
    addr: SocketAddr,
    // Holds the config, the script and the log for as long as the runtime runs.
    dir: tempfile::TempDir,
}

impl Workerd {
    /// Starts `binary` serving `worker` on `127.0.0.1:<free port>` and waits until it listens.
    /// Outbound fetches may reach loopback and private addresses (the sandbox's origins).
    pub fn start(binary: &Path, worker: &WorkerScript) -> Result<Workerd> {
        Workerd::start_with(binary, worker, None)
    }

    /// [`Workerd::start`], with every outbound fetch sent to `outbound` whatever its URL's host
    /// (which still names the request's Host): a platform's host names served on loopback.
    pub fn start_routed(
        binary: &Path,
        worker: &WorkerScript,
        outbound: SocketAddr,
    ) -> Result<Workerd> {
        Workerd::start_with(binary, worker, Some(outbound))
    }

    fn start_with(
        binary: &Path,
        worker: &WorkerScript,
        outbound: Option<SocketAddr>,
    ) -> Result<Workerd> {
        let dir = tempfile::Builder::new()
            .prefix("failover-workerd-")
            .tempdir()
            .context("cannot create a directory for the workerd config")?;
        let config = capnp_config(worker, outbound)?;
        std::fs::write(dir.path().join("worker.js"), &worker.script)
            .context("cannot write the Worker script")?;
        for (i, b) in worker.bindings.iter().enumerate() {
            let data = match b {
                Binding::PlainText { text, .. } => text.clone(),
                Binding::Json { json, .. } => json.to_string(),
            };
            std::fs::write(dir.path().join(format!("binding-{i}")), data)
                .context("cannot write a binding")?;
        }
        let config_path = dir.path().join("config.capnp");
        std::fs::write(&config_path, config).context("cannot write the workerd config")?;

        let log = std::fs::File::create(dir.path().join(LOG_FILE))
            .context("cannot create the workerd log")?;
        // The port arrives on fd 3 as a JSON line, so there is no race for a free port.
        // A socket pair rather than a pipe: std's pipe needs a newer Rust than this crate's MSRV,
        // and workerd only write(2)s to the descriptor.
        let (reader, writer) =
            std::os::unix::net::UnixStream::pair().context("cannot create the control channel")?;
        let mut cmd = Command::new(binary);
        cmd.arg("serve")
            .arg(&config_path)
            .args(["--socket-addr", "http=127.0.0.1:0", "--control-fd", "3"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Its log goes to a file, not the user's terminal; errors quote its tail.
            .stderr(log);
        cmd.fd_mappings(vec![FdMapping {
            parent_fd: std::os::fd::OwnedFd::from(writer),
            child_fd: 3,
        }])
        .context("cannot pass the control socket")?;
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        // The Command holds our copy of the writing end; dropping it lets a dead workerd
        // show as end-of-file instead of a hang.
        drop(cmd);
        let mut rt = Workerd {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            dir,
        };
        let port = match wait_for_port(reader) {
            Ok(p) => p,
            Err(e) => return Err(e.context(rt.log_tail())),
        };
        if port == 0 {
            let status = rt.child.try_wait().ok().flatten();
            bail!(
                "workerd exited before listening ({}): {}",
                status.map_or("still running".to_owned(), |s| s.to_string()),
                rt.log_tail()
            );
        }
        rt.addr.set_port(port);
        Ok(rt)
    }

    /// [`Workerd::start`] off the async threads: startup blocks until the port is reported.
    /// [`Workerd::start_routed`] off the async runtime (the sandbox edge's runtimes send their
    /// fetches through its egress).
    pub async fn spawn(
        binary: PathBuf,
        worker: WorkerScript,
        outbound: SocketAddr,
    ) -> Result<Workerd> {
        tokio::task::spawn_blocking(move || Workerd::start_routed(&binary, &worker, outbound))
            .await
            .context("the workerd start task failed")?
    }

    /// Finds workerd with [`locate`] and starts it.
    pub fn start_located(env_override: Option<&str>, worker: &WorkerScript) -> Result<Workerd> {
        let binary = locate(env_override)?;
        Workerd::start(&binary, worker)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The last lines workerd wrote to stderr (at most 2 KB), for error messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read(self.dir.path().join(LOG_FILE)).unwrap_or_default();
        let tail = &log[log.len().saturating_sub(2048)..];
        crate::text::sanitize(String::from_utf8_lossy(tail).trim())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The runtime's resident memory (VmRSS from /proc), in bytes.
    pub fn rss_bytes(&self) -> Result<u64> {
        rss_bytes(self.pid())
    }
}

impl Drop for Workerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// VmRSS of a process, in bytes (Linux).
pub fn rss_bytes(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS line in /proc status")?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .context("VmRSS is not a number")?;
    Ok(kib * 1024)
}

/// Reads control messages until the `listen` event; 0 when the channel closes first.
fn wait_for_port(reader: std::os::unix::net::UnixStream) -> Result<u16> {
    let (tx, rx) = std::sync::mpsc::channel();
    // A blocking read on its own thread, so a wedged runtime cannot hang the caller forever.
    std::thread::spawn(move || {
        let mut lines = BufReader::new(reader).lines();
        let port = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else {
                        continue;
                    };
                    if msg["event"] == "listen" && msg["socket"] == "http" {
                        break msg["port"].as_u64().unwrap_or(0) as u16;
                    }
                }
                _ => break 0,
            }
        };
        let _ = tx.send(port);
        // Keep draining so workerd never blocks writing later control messages.
        for _ in lines {}
    });
    rx.recv_timeout(READY_TIMEOUT)
        .context("workerd did not report a listening port in time")
}

/// The capnp text config: one Worker bound to the `http` socket, with outbound fetches allowed
/// to loopback and private networks. Script and bindings are embedded from files, so no
/// user-supplied text is ever quoted into the config.
fn capnp_config(worker: &WorkerScript, outbound: Option<SocketAddr>) -> Result<String> {
    let date = &worker.compatibility_date;
    let is_date = date.len() == 10
        && date.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !is_date {
        bail!("compatibility date {date:?} is not YYYY-MM-DD");
    }
    let mut bindings = Vec::new();
    for (i, b) in worker.bindings.iter().enumerate() {
        let name = b.name();
        let is_ident = !name.is_empty()
            && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
            && !name.as_bytes()[0].is_ascii_digit();
        if !is_ident {
            bail!("binding name {name:?} is not an identifier");
        }
        let kind = match b {
            Binding::PlainText { .. } => "text",
            Binding::Json { .. } => "json",
        };
        bindings.push(format!(
            "    (name = \"{name}\", {kind} = embed \"binding-{i}\"),"
        ));
    }
    Ok(format!(
        r#"using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    {outbound},
  ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);

const worker :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "{date}",
  bindings = [
{bindings}
  ],
  globalOutbound = "outbound",
);
"#,
        bindings = bindings.join("\n"),
        outbound = match outbound {
            Some(addr) =>
                format!("(name = \"outbound\", external = (address = \"{addr}\", http = ()))"),
            None =>
                "(name = \"outbound\", network = (allow = [\"local\", \"private\"]))".to_owned(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_binary_that_is_missing_is_an_error() {
        let err = locate(Some("/nonexistent/workerd")).unwrap_err();
        assert_eq!(err.looked, [PathBuf::from("/nonexistent/workerd")]);
        assert!(err.to_string().contains("FAILOVER_WORKERD"));
    }

    #[test]
    fn config_embeds_rather_than_quotes() {
        let cfg = capnp_config(
            &WorkerScript {
                script: "export default {}".into(),
                bindings: vec![
                    Binding::PlainText {
                        name: "ORIGIN".into(),
                        text: "\"); evil".into(),
                    },
                    Binding::Json {
                        name: "STATE".into(),
                        json: serde_json::json!({"a": 1}),
                    },
                ],
                compatibility_date: "2025-09-01".into(),
            },
            None,
        )
        .unwrap();
        assert!(cfg.contains(r#"(name = "ORIGIN", text = embed "binding-0"),"#));
        assert!(cfg.contains(r#"(name = "STATE", json = embed "binding-1"),"#));
        assert!(!cfg.contains("evil"));
    }

    #[test]
    fn config_rejects_bad_names_and_dates() {
        let w = |name: &str, date: &str| WorkerScript {
            script: String::new(),
            bindings: vec![Binding::PlainText {
                name: name.into(),
                text: String::new(),
            }],
            compatibility_date: date.into(),
        };
        assert!(capnp_config(&w("OK_1", "2025-09-01"), None).is_ok());
        assert!(capnp_config(&w("bad\"name", "2025-09-01"), None).is_err());
        assert!(capnp_config(&w("OK", "2025-9-1"), None).is_err());
        assert!(capnp_config(&w("OK", "2025-09-01\""), None).is_err());
    }
}
