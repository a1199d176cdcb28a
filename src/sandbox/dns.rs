//! An in-process DNS authority on 127.0.0.1:0 (UDP and TCP, hickory-server) whose zones and
//! failure modes change at runtime: a name can answer, say NXDOMAIN, SERVFAIL or REFUSED, or
//! drop every packet (blackhole), and heal again. With a default behaviour it is also the
//! blackholing, SERVFAIL or REFUSED responder the drill and tests point resolvers at, including
//! one that refuses as access control does (REFUSED with an empty question section).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use hickory_proto::op::{Metadata, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinDecoder;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo, Server};
use hickory_server::zone_handler::{MessageResponseBuilder, Queries};
use tokio::net::{TcpListener, UdpSocket};

/// How a name (or the whole server) answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Answer from the zone: records, CNAMEs, NXDOMAIN for unknown names.
    Answer,
    Nxdomain,
    Servfail,
    Refused,
    /// REFUSED with an empty question section, as unbound's `access-control: refuse` answers
    /// a client it does not serve.
    RefusedBare,
    /// Read the query and never reply.
    Blackhole,
}

#[derive(Default)]
struct Zone {
    /// Records by lowercase name without the trailing dot.
    records: HashMap<String, Vec<RData>>,
    /// Per-name overrides of the behaviour.
    behaviour: HashMap<String, Behaviour>,
    default: Option<Behaviour>,
}

struct Handler {
    zone: Arc<Mutex<Zone>>,
    queries: Arc<AtomicUsize>,
}

/// A running DNS server. Stops when dropped.
pub struct DnsServer {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    queries: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

const TTL: u32 = 5;

impl DnsServer {
    /// An authority with empty zones on 127.0.0.1, a random port, UDP and TCP.
    pub async fn start() -> Result<Self> {
        let (udp, tcp, addr) = bind_pair().await?;
        let zone = Arc::new(Mutex::new(Zone::default()));
        let queries = Arc::new(AtomicUsize::new(0));
        let mut server = Server::new(Handler {
            zone: zone.clone(),
            queries: queries.clone(),
        });
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(10), 64);
        let task = tokio::spawn(async move {
            let _ = server.block_until_done().await;
        });
        Ok(DnsServer {
            addr,
            zone,
            queries,
            task,
        })
    }

    /// A responder that answers every query the same way (blackhole, SERVFAIL, REFUSED...).
    pub async fn responder(behaviour: Behaviour) -> Result<Self> {
        let server = Self::start().await?;
        server.set_default(behaviour);
        Ok(server)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many queries arrived (answered or not): proof that the server was asked.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }

    fn with<T>(&self, f: impl FnOnce(&mut Zone) -> T) -> T {
        f(&mut self.zone.lock().expect("sandbox zone lock"))
    }

    /// Replaces `name`'s addresses.
    pub fn set_addrs(&self, name: &str, addrs: &[IpAddr]) {
        let data = addrs
            .iter()
            .map(|ip| match ip {
                IpAddr::V4(v4) => RData::A(A(*v4)),
                IpAddr::V6(v6) => RData::AAAA(AAAA(*v6)),
            })
            .collect();
        self.with(|z| z.records.insert(key(name), data));
    }

    /// Makes `name` a CNAME to `target`.
    pub fn set_cname(&self, name: &str, target: &str) -> Result<()> {
        let target = Name::from_ascii(format!("{}.", key(target)))
            .with_context(|| format!("{target:?} is not a DNS name"))?;
        self.with(|z| {
            z.records
                .insert(key(name), vec![RData::CNAME(CNAME(target))])
        });
        Ok(())
    }

    /// Sets `name`'s TXT strings (any bytes the wire allows, for hostile-text tests).
    pub fn set_txt(&self, name: &str, texts: &[&str]) {
        let txt = RData::TXT(TXT::new(texts.iter().map(|t| (*t).to_owned()).collect()));
        self.with(|z| z.records.entry(key(name)).or_default().push(txt));
    }

    /// Removes every record of `name` (it then answers NXDOMAIN).
    pub fn remove(&self, name: &str) {
        self.with(|z| z.records.remove(&key(name)));
    }

    /// Overrides how `name` answers; `Behaviour::Answer` heals it.
    pub fn set_behaviour(&self, name: &str, behaviour: Behaviour) {
        self.with(|z| z.behaviour.insert(key(name), behaviour));
    }

    /// How every name without its own override answers.
    pub fn set_default(&self, behaviour: Behaviour) {
        self.with(|z| z.default = Some(behaviour));
    }
}

/// A UDP socket and a TCP listener on the same random port, so a resolver falling back to TCP
/// reaches the same server. The port the kernel picks for UDP may be taken for TCP; try again.
async fn bind_pair() -> Result<(UdpSocket, TcpListener, SocketAddr)> {
    let mut last = None;
    for _ in 0..32 {
        let udp = UdpSocket::bind("127.0.0.1:0")
            .await
            .context("cannot bind the sandbox DNS UDP socket")?;
        let addr = udp.local_addr()?;
        match TcpListener::bind(addr).await {
            Ok(tcp) => return Ok((udp, tcp, addr)),
            Err(e) => last = Some(e),
        }
    }
    Err(anyhow::Error::new(last.expect("at least one attempt"))
        .context("cannot bind the sandbox DNS TCP listener beside its UDP socket"))
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        // Dropping the server's task drops its listeners and in-flight requests.
        self.task.abort();
    }
}

enum Reply {
    Drop,
    /// REFUSED without echoing the question.
    RefuseBare,
    Code(ResponseCode),
    Records(Vec<Record>),
}

impl Zone {
    fn reply(&self, qname: &str, qtype: RecordType) -> Reply {
        let mut answers = Vec::new();
        let mut name = key(qname);
        for _ in 0..8 {
            let behaviour = self
                .behaviour
                .get(&name)
                .copied()
                .or(self.default)
                .unwrap_or(Behaviour::Answer);
            match behaviour {
                Behaviour::Answer => {}
                // A failure after a CNAME still reports the CNAME, as real resolvers do; the
                // first hop's failure is the whole answer.
                Behaviour::Blackhole => return Reply::Drop,
                Behaviour::Nxdomain => return Reply::Code(ResponseCode::NXDomain),
                Behaviour::Servfail => return Reply::Code(ResponseCode::ServFail),
                Behaviour::Refused => return Reply::Code(ResponseCode::Refused),
                Behaviour::RefusedBare => return Reply::RefuseBare,
            }
            let Some(data) = self.records.get(&name) else {
                return if answers.is_empty() {
                    Reply::Code(ResponseCode::NXDomain)
                } else {
                    Reply::Records(answers)
                };
            };
            let owner = Name::from_ascii(format!("{name}.")).unwrap_or_default();
            let cname = data.iter().find_map(|d| match d {
                RData::CNAME(c) => Some(c.0.clone()),
                _ => None,
            });
            match cname {
                Some(target) if qtype != RecordType::CNAME => {
                    answers.push(Record::from_rdata(
                        owner,
                        TTL,
                        RData::CNAME(CNAME(target.clone())),
                    ));
                    name = key(&target.to_string());
                }
                _ => {
                    answers.extend(
                        data.iter()
                            .filter(|d| d.record_type() == qtype)
                            .map(|d| Record::from_rdata(owner.clone(), TTL, d.clone())),
                    );
                    return Reply::Records(answers);
                }
            }
        }
        Reply::Code(ResponseCode::ServFail)
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        self.queries.fetch_add(1, Ordering::SeqCst);
        let builder = MessageResponseBuilder::from_message_request(request);
        let info = request.request_info();
        let reply = match &info {
            Ok(info) => {
                let qname = info.query.name().to_string();
                let qtype = info.query.query_type();
                self.zone
                    .lock()
                    .map(|z| z.reply(&qname, qtype))
                    .unwrap_or(Reply::Code(ResponseCode::ServFail))
            }
            Err(_) => Reply::Code(ResponseCode::FormErr),
        };
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        let sent = match reply {
            Reply::Drop => {
                return ResponseInfo::from(hickory_proto::op::Header {
                    metadata,
                    counts: Default::default(),
                })
            }
            Reply::RefuseBare => {
                let none = Queries::read(&mut BinDecoder::new(&[]), 0)
                    .expect("an empty question section decodes");
                response_handle
                    .send_response(
                        MessageResponseBuilder::new(&none, None)
                            .error_msg(&request.metadata, ResponseCode::Refused),
                    )
                    .await
            }
            Reply::Code(code) => {
                response_handle
                    .send_response(builder.error_msg(&request.metadata, code))
                    .await
            }
            Reply::Records(records) => {
                response_handle
                    .send_response(builder.build(metadata, records.iter(), [], [], []))
                    .await
            }
        };
        sent.unwrap_or_else(|_| {
            ResponseInfo::from(hickory_proto::op::Header {
                metadata,
                counts: Default::default(),
            })
        })
    }
}
