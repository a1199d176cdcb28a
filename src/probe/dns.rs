//! The only user of hickory-resolver: one single-server resolver per configured resolver, CNAME
//! chains walked hop by hop, answers classified into plain [`DnsAnswer`]s.
//!
//! Each resolver talks to exactly one name server with one attempt, and every query is bounded
//! by `dns.timeout_ms` on top, so a blackholing resolver costs at most that, never hickory's
//! retries times servers. Beside each query the same question goes out once over plain UDP,
//! only to hear a REFUSED at once: access control (unbound's `refuse`) answers with an empty
//! question section, which hickory rightly ignores as not matching and then waits out.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as HickoryDnsError, NetError};
use hickory_resolver::proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::TokioResolver;
use tokio::net::UdpSocket;

use crate::config::{DnsSettings, ResolverSpec};
use crate::observation::{DnsAnswer, DnsFailure};

/// The configured resolvers, ready to ask. Cheap to share behind an `Arc`.
pub struct DnsClient {
    resolvers: Vec<Upstream>,
    timeout: Duration,
}

struct Upstream {
    spec: ResolverSpec,
    label: String,
    /// `Err` holds why this resolver cannot be used (e.g. no usable /etc/resolv.conf).
    resolver: Result<Ready, String>,
}

/// A usable resolver and the one name server it asks.
struct Ready {
    resolver: TokioResolver,
    server: SocketAddr,
}

/// No resolver gave an address for a name: the server behind it was never contacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Unresolved {
    /// The most telling resolver's failure: an answer (NXDOMAIN, SERVFAIL, no records) before
    /// a timeout, a timeout before a refusal, a refusal before an unreachable resolver.
    pub failure: DnsFailure,
    pub message: String,
}

/// Hop limit for CNAME chains, as resolvers use (loops and absurd chains end here).
const MAX_HOPS: usize = 8;

impl DnsClient {
    pub fn new(settings: &DnsSettings) -> Self {
        let resolvers = settings
            .resolvers
            .iter()
            .map(|spec| build(spec, settings.timeout))
            .collect();
        DnsClient {
            resolvers,
            timeout: settings.timeout,
        }
    }

    fn upstream(&self, spec: &ResolverSpec) -> Option<&Upstream> {
        self.resolvers.iter().find(|u| &u.spec == spec)
    }

    /// Follows `host`'s CNAME chain on one resolver, recording each hop, then resolves the
    /// final name's addresses.
    pub async fn resolve_chain(&self, spec: &ResolverSpec, host: &str) -> DnsAnswer {
        let Some(up) = self.upstream(spec) else {
            return unknown_resolver(spec, host);
        };
        let mut answer = DnsAnswer {
            name: host.to_owned(),
            resolver: up.label.clone(),
            chain: Vec::new(),
            addrs: Vec::new(),
            failure: None,
        };
        let ready = match &up.resolver {
            Ok(r) => r,
            Err(why) => {
                answer.failure = Some((DnsFailure::Connect, why.clone()));
                return answer;
            }
        };
        let mut current = host.to_owned();
        for _ in 0..MAX_HOPS {
            match self.query(ready, &current, RecordType::CNAME).await {
                Ok(records) => {
                    let next = records.into_iter().find_map(|r| match r {
                        Found::Name(n) => Some(n),
                        Found::Addr(_) => None,
                    });
                    match next {
                        Some(next) if !answer.chain.contains(&next) && next != host => {
                            answer.chain.push(next.clone());
                            current = next;
                        }
                        _ => break,
                    }
                }
                // The name exists without a CNAME: the chain ends here.
                Err((DnsFailure::NoRecords, _)) => break,
                Err(failure) => {
                    answer.failure = Some(failure);
                    return answer;
                }
            }
        }
        let (addrs, failure) = self.addrs(ready, &current).await;
        answer.addrs = addrs;
        answer.failure = failure;
        answer
    }

    /// The name `host` is a CNAME to on one resolver, if it is one and the resolver says so.
    pub async fn first_hop(&self, spec: &ResolverSpec, host: &str) -> Option<String> {
        let ready = self.upstream(spec)?.resolver.as_ref().ok()?;
        let found = self.query(ready, host, RecordType::CNAME).await.ok()?;
        found.into_iter().find_map(|f| match f {
            Found::Name(n) if n != host => Some(n),
            _ => None,
        })
    }

    /// Resolves `name`'s addresses (A and AAAA, at once) on one resolver.
    pub async fn resolve_addrs(&self, spec: &ResolverSpec, name: &str) -> DnsAnswer {
        let Some(up) = self.upstream(spec) else {
            return unknown_resolver(spec, name);
        };
        let mut answer = DnsAnswer {
            name: name.to_owned(),
            resolver: up.label.clone(),
            chain: Vec::new(),
            addrs: Vec::new(),
            failure: None,
        };
        match &up.resolver {
            Ok(ready) => {
                let (addrs, failure) = self.addrs(ready, name).await;
                answer.addrs = addrs;
                answer.failure = failure;
            }
            Err(why) => answer.failure = Some((DnsFailure::Connect, why.clone())),
        }
        answer
    }

    /// The addresses of `host` from whichever resolver answers first (used to connect HTTP
    /// probes through the same resolvers as the DNS checks).
    pub async fn lookup_any(&self, host: &str) -> Result<Vec<IpAddr>, Unresolved> {
        use futures::stream::{FuturesUnordered, StreamExt};
        let mut pending: FuturesUnordered<_> = self
            .resolvers
            .iter()
            .map(|u| self.resolve_addrs(&u.spec, host))
            .collect();
        let mut failures = Vec::new();
        let mut worst: Option<DnsFailure> = None;
        while let Some(answer) = pending.next().await {
            if !answer.addrs.is_empty() {
                return Ok(answer.addrs);
            }
            if let Some((kind, _)) = answer.failure {
                failures.push(format!("{} {}", answer.resolver, kind.as_str()));
                if worst.is_none_or(|w| telling(kind) < telling(w)) {
                    worst = Some(kind);
                }
            }
        }
        if failures.is_empty() {
            failures.push("no resolver configured".to_owned());
        }
        Err(Unresolved {
            failure: worst.unwrap_or(DnsFailure::Connect),
            message: format!(
                "{host} did not resolve here ({}), so it was never contacted",
                failures.join(", ")
            ),
        })
    }

    async fn addrs(
        &self,
        ready: &Ready,
        name: &str,
    ) -> (Vec<IpAddr>, Option<(DnsFailure, String)>) {
        let (v4, v6) = tokio::join!(
            self.query(ready, name, RecordType::A),
            self.query(ready, name, RecordType::AAAA)
        );
        let mut addrs = Vec::new();
        for found in v4.iter().chain(v6.iter()).flatten() {
            if let Found::Addr(ip) = found {
                if !addrs.contains(ip) {
                    addrs.push(*ip);
                }
            }
        }
        if !addrs.is_empty() {
            return (addrs, None);
        }
        // The A answer speaks for the name unless it merely had no records and AAAA says more.
        let failure = match (v4, v6) {
            (Err((DnsFailure::NoRecords, _)), Err(other)) => other,
            (Err(e), _) => e,
            (Ok(_), Err(e)) => e,
            (Ok(_), Ok(_)) => (DnsFailure::NoRecords, "no A or AAAA records".to_owned()),
        };
        (addrs, Some(failure))
    }

    async fn query(
        &self,
        ready: &Ready,
        name: &str,
        kind: RecordType,
    ) -> Result<Vec<Found>, (DnsFailure, String)> {
        // A trailing dot makes the name absolute, so no search domain is ever tried.
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        let asked = tokio::time::timeout(self.timeout, ready.resolver.lookup(fqdn.as_str(), kind));
        let refusal = async {
            if !refuses(ready.server, &fqdn, kind).await {
                // Any other reply is hickory's to read: this side only ever hears a refusal.
                std::future::pending::<()>().await;
            }
        };
        let lookup = tokio::select! {
            looked = asked => looked,
            () = refusal => {
                return Err((DnsFailure::Refused, "REFUSED".to_owned()));
            }
        }
        .map_err(|_| NetError::Timeout)
        .and_then(|looked| looked)
        .map_err(|e| match classify(&e) {
            // Ours or hickory's own timer, whichever fired first: the same words either way.
            (DnsFailure::Timeout, _) => (
                DnsFailure::Timeout,
                format!("no answer within {} ms", self.timeout.as_millis()),
            ),
            other => other,
        })?;
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(Found::Addr(IpAddr::V4(a.0))),
                RData::AAAA(a) => Some(Found::Addr(IpAddr::V6(a.0))),
                RData::CNAME(c) if kind == RecordType::CNAME => {
                    Some(Found::Name(display_name(&c.0.to_string())))
                }
                _ => None,
            })
            .collect())
    }
}

enum Found {
    Addr(IpAddr),
    Name(String),
}

fn display_name(s: &str) -> String {
    s.trim_end_matches('.').to_ascii_lowercase()
}

/// The order in which a failed lookup is explained: what a resolver answered says the most.
fn telling(kind: DnsFailure) -> u8 {
    match kind {
        DnsFailure::Nxdomain => 0,
        DnsFailure::Servfail => 1,
        DnsFailure::NoRecords => 2,
        DnsFailure::Timeout => 3,
        DnsFailure::Refused => 4,
        DnsFailure::Connect => 5,
    }
}

/// Asks `server` the question once over plain UDP and says whether it answered REFUSED,
/// whatever its question section holds. Anything else (another answer, silence, an ICMP
/// error) is `false`: the resolver proper reads those.
async fn refuses(server: SocketAddr, fqdn: &str, kind: RecordType) -> bool {
    let Ok(name) = Name::from_ascii(fqdn) else {
        return false;
    };
    let mut query = Message::query();
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(name, kind));
    let Ok(bytes) = query.to_vec() else {
        return false;
    };
    let local = if server.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let Ok(socket) = UdpSocket::bind(local).await else {
        return false;
    };
    if socket.connect(server).await.is_err() || socket.send(&bytes).await.is_err() {
        return false;
    }
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok(n) = socket.recv(&mut buf).await else {
            return false;
        };
        let Ok(reply) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        if reply.metadata.id == query.metadata.id
            && reply.metadata.message_type == MessageType::Response
        {
            return reply.metadata.response_code == ResponseCode::Refused;
        }
    }
}

fn unknown_resolver(spec: &ResolverSpec, name: &str) -> DnsAnswer {
    DnsAnswer {
        name: name.to_owned(),
        resolver: spec.to_string(),
        chain: Vec::new(),
        addrs: Vec::new(),
        failure: Some((DnsFailure::Connect, "resolver not configured".to_owned())),
    }
}

fn classify(e: &NetError) -> (DnsFailure, String) {
    let kind = match e {
        NetError::Dns(HickoryDnsError::ResponseCode(ResponseCode::Refused)) => DnsFailure::Refused,
        NetError::Dns(HickoryDnsError::ResponseCode(ResponseCode::NXDomain)) => {
            DnsFailure::Nxdomain
        }
        NetError::Dns(HickoryDnsError::ResponseCode(_)) => DnsFailure::Servfail,
        NetError::Dns(HickoryDnsError::NoRecordsFound(nr)) => {
            if nr.response_code == ResponseCode::NXDomain {
                DnsFailure::Nxdomain
            } else {
                DnsFailure::NoRecords
            }
        }
        NetError::Timeout => DnsFailure::Timeout,
        _ => DnsFailure::Connect,
    };
    let detail = match (kind, e) {
        (DnsFailure::Nxdomain, _) => "NXDOMAIN".to_owned(),
        (DnsFailure::NoRecords, _) => "no records of this type".to_owned(),
        (DnsFailure::Refused, _) => "REFUSED".to_owned(),
        (DnsFailure::Servfail, NetError::Dns(HickoryDnsError::ResponseCode(code))) => match code {
            ResponseCode::ServFail => "SERVFAIL".to_owned(),
            other => format!("{other}"),
        },
        _ => e.to_string(),
    };
    (kind, detail)
}

fn build(spec: &ResolverSpec, timeout: Duration) -> Upstream {
    let server = match spec {
        ResolverSpec::Addr(addr) => Ok(*addr),
        ResolverSpec::System => system_server(),
    };
    let label = match (spec, &server) {
        (ResolverSpec::System, Ok(addr)) => format!("system ({addr})"),
        _ => spec.to_string(),
    };
    let resolver = server.and_then(|addr| {
        let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
        for conn in &mut ns.connections {
            conn.port = addr.port();
        }
        let mut opts = ResolverOpts::default();
        opts.attempts = 1;
        opts.timeout = timeout;
        opts.num_concurrent_reqs = 1;
        opts.preserve_intermediates = true;
        // A diagnosis reports what the resolver says now, never what it said a moment ago:
        // no answer is kept (a resolver asked again after a change must be asked for real).
        opts.cache_size = 0;
        opts.positive_max_ttl = Some(Duration::ZERO);
        opts.negative_max_ttl = Some(Duration::ZERO);
        opts.ndots = 0;
        // /etc/hosts would answer for names the resolver under test never saw.
        opts.use_hosts_file = hickory_resolver::config::ResolveHosts::Never;
        let mut builder = TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(vec![ns]),
            TokioRuntimeProvider::default(),
        );
        *builder.options_mut() = opts;
        builder
            .build()
            .map(|resolver| Ready {
                resolver,
                server: addr,
            })
            .map_err(|e| format!("cannot set up resolver {addr}: {e}"))
    });
    Upstream {
        spec: spec.clone(),
        label,
        resolver,
    }
}

/// The first name server of /etc/resolv.conf: "system" is one resolver like any other.
fn system_server() -> Result<SocketAddr, String> {
    let (config, _) = hickory_resolver::system_conf::read_system_conf()
        .map_err(|e| format!("cannot read the system resolver configuration: {e}"))?;
    let ns = config
        .name_servers()
        .first()
        .ok_or_else(|| "no nameserver in /etc/resolv.conf".to_owned())?;
    let port = ns.connections.first().map(|c| c.port).unwrap_or(53);
    Ok(SocketAddr::new(ns.ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::dns::{Behaviour, DnsServer};

    const TARGET: &str = "haiku-word-123.herokudns.test";

    fn client(server: &DnsServer) -> (DnsClient, ResolverSpec) {
        let spec = ResolverSpec::Addr(server.addr());
        let settings = DnsSettings {
            resolvers: vec![spec.clone()],
            timeout: Duration::from_secs(2),
        };
        (DnsClient::new(&settings), spec)
    }

    #[track_caller]
    fn check(answer: &DnsAnswer, chain: &[&str], addrs: usize, failure: Option<DnsFailure>) {
        assert_eq!(
            (
                answer.chain.iter().map(String::as_str).collect::<Vec<_>>(),
                answer.addrs.len(),
                answer.failure.as_ref().map(|f| f.0)
            ),
            (chain.to_vec(), addrs, failure),
            "{answer:?}"
        );
    }

    #[tokio::test]
    async fn each_behaviour_is_classified_and_heals() {
        let server = DnsServer::start().await.unwrap();
        server.set_cname("api.example.test", TARGET).unwrap();
        server.set_addrs(
            TARGET,
            &["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()],
        );
        server.set_txt("txt-only.test", &["v=spf1 -all"]);
        let (dns, r) = client(&server);

        check(
            &dns.resolve_chain(&r, "api.example.test").await,
            &[TARGET],
            2,
            None,
        );
        check(
            &dns.resolve_addrs(&r, "txt-only.test").await,
            &[],
            0,
            Some(DnsFailure::NoRecords),
        );
        check(
            &dns.resolve_addrs(&r, "missing.test").await,
            &[],
            0,
            Some(DnsFailure::Nxdomain),
        );
        for (how, failure) in [
            (Behaviour::Servfail, DnsFailure::Servfail),
            (Behaviour::Refused, DnsFailure::Refused),
            (Behaviour::Nxdomain, DnsFailure::Nxdomain),
            (Behaviour::RefusedBare, DnsFailure::Refused),
            (Behaviour::Blackhole, DnsFailure::Timeout),
        ] {
            server.set_behaviour(TARGET, how);
            check(&dns.resolve_addrs(&r, TARGET).await, &[], 0, Some(failure));
            // The public host's chain still shows the hop, then the failure.
            check(
                &dns.resolve_chain(&r, "api.example.test").await,
                &[TARGET],
                0,
                Some(failure),
            );
        }
        server.set_behaviour(TARGET, Behaviour::Answer);
        check(&dns.resolve_addrs(&r, TARGET).await, &[], 2, None);
        assert_eq!(
            dns.first_hop(&r, "api.example.test").await.as_deref(),
            Some(TARGET)
        );
        assert_eq!(dns.lookup_any(TARGET).await.map(|a| a.len()), Ok(2));
        assert!(server.queries() > 10);
    }
}
