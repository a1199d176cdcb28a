//! The command line as clap sees it: types only, no behaviour. `config.rs` resolves these.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Diagnose a platform DNS-target outage and keep the app online through an emergency
/// Cloudflare Worker proxy in front of its direct origin URL, then remove it cleanly.
#[derive(Debug, Parser)]
#[command(
    name = "failover",
    version,
    propagate_version = true,
    after_long_help = "\
The incident, in four commands:
  failover diagnose        what is broken? (exit 3 when there is an incident)
  failover deploy-proxy    put the emergency Worker in front of the direct origin
  failover status          is the proxy live, and is the platform healthy yet?
  failover rollback        remove the proxy once the platform path works again

Unattended:                failover watch --auto   (detect, alert, deploy and roll back)
Try it with no account:    failover drill

Exit codes: 0 ok/healthy, 1 runtime failure, 2 usage or config error (nothing sent),
3 incident found or verification failed, 4 refused for safety, 5 partially applied
(re-run to converge), 130 interrupted."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes; `--help` lists them under their own heading.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The config file [default: $FAILOVER_CONFIG, else ./failover.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Where the journal and local records live [default: .failover/ beside the config]
    #[arg(long, global = true, value_name = "DIR", env = "FAILOVER_STATE_DIR")]
    pub state_dir: Option<PathBuf>,

    /// Print exactly one JSON document on stdout; progress and prompts never go to stdout
    #[arg(long, global = true)]
    pub json: bool,

    /// Assume yes to every confirmation. Accepted anywhere (`failover --yes rollback`) but
    /// listed only by the commands that ask something (see `Confirm`).
    #[arg(long, short = 'y', global = true, hide = true)]
    pub yes: bool,

    /// Never prompt (implied when stdin is not a terminal or CI is set)
    #[arg(long, global = true)]
    pub no_input: bool,

    /// More detail (repeatable)
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only the result and errors
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,

    /// When to use colour (NO_COLOR is honoured under auto)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the runbook's checks concurrently and say what is broken and what to do
    #[command(after_long_help = "\
Checks, all at once under one deadline ([probe].deadline_ms):
  - the public host's CNAME chain and the platform DNS target on every resolver
  - the public URL and each direct origin at health_path (and websocket_path)
  - each [[compare]] environment, for the region/global scope
  - the provider status pages
Verdicts: healthy (exit 0); dns_target_failure, edge_failure, degraded -> deploy-proxy;
origin_down, public_dns_failure, inconclusive -> escalate; proxy_active -> rollback when
healthy (exit 3). Resolvers that time out, refuse or are unreachable on every query are not
counted; when none answers, the verdict is inconclusive: try --resolver.

The checks come from a runbook (--runbook, else service.runbook, else picked from the
origin's platform; see `failover runbook list`). On a terminal, diagnose walks through the
runbook's steps (e: evidence, Enter: next, a: run to the end) and offers to deploy the proxy
when that is the action; --json, --no-input, --yes and -q print the report only.

Examples:
  failover diagnose
  failover diagnose --json | jq .verdict
  failover diagnose --resolver 127.0.0.1:5353 --resolve api.example.com:443:127.0.0.1")]
    Diagnose(DiagnoseCommand),

    /// Render the Worker, plan against live Cloudflare state, confirm, apply (journaled), verify
    #[command(
        name = "deploy-proxy",
        after_long_help = "\
Needs CLOUDFLARE_API_TOKEN (or --api-token-file) with Workers Scripts Edit (account),
Workers Routes Edit, DNS Edit and Zone Read (zone).

Examples:
  failover deploy-proxy --dry-run          show the plan and the diff, change nothing
  failover deploy-proxy --yes --json       from CI
  failover deploy-proxy --print-script     the Worker, for the dashboard or your own tooling"
    )]
    DeployProxy(DeployArgs),

    /// Remove the emergency proxy once the platform path is healthy again (works from any machine)
    #[command(after_long_help = "\
Finds what deploy-proxy created from Cloudflare itself (the failover-managed tag and the
state binding), so it needs nothing from the machine that deployed.
Refuses (exit 4) while the platform path still fails, unless --force.")]
    Rollback(RollbackArgs),

    /// Is an emergency proxy live? Since when, which routes, and is the platform healthy yet
    #[command(after_long_help = "\
Reads the proxy's state from Cloudflare (the failover-managed script and its routes) and
probes the platform path the way diagnose does. Exit 0; the next action is in the output.

Examples:
  failover status
  failover status --json | jq .platform")]
    Status(StatusArgs),

    /// Play the whole October 2025 incident on this machine, end to end, with no account
    #[command(after_long_help = "\
Stands up on loopback: a DNS server, the app's origin, a comparison environment, a sandbox
Cloudflare API and an edge running the Worker in workerd; then breaks the DNS target and
runs the real commands: diagnose, deploy-proxy, verify, recover, rollback.
workerd comes from FAILOVER_WORKERD, PATH, or is installed once into the user cache with npm.")]
    Drill(DrillArgs),

    /// Diagnose every interval; print, journal and notify each change; with --auto, act on it
    #[command(after_long_help = "\
Runs the diagnosis every --interval (default [watch].interval, else 30s) until SIGINT or
SIGTERM, and prints each change of verdict (JSON lines with --json). With --auto it deploys
the emergency proxy after [watch].deploy_after cycles in a row whose action is deploy-proxy
(default 3), and rolls it back after [watch].rollback_after cycles in a row with the platform
path healthy behind it (default 5). It never acts on inconclusive or origin_down. A change in
flight completes before the watch exits (0). [[notify]] entries get each change and action.

Examples:
  failover watch --auto --metrics 127.0.0.1:9184
  failover watch --once           one cycle; exit 0 when healthy, 3 otherwise (scheduled CI)
  failover watch --json | jq -c 'select(.acted)'")]
    Watch(WatchArgs),

    /// The incident timeline from the journal, for the postmortem (Markdown or JSON)
    #[command(after_long_help = "\
Reads .failover/journal.jsonl (or --state-dir) and renders the latest incident: milestones,
time to mitigation, every verdict, the Cloudflare changes and the whole timeline.

Examples:
  failover report > incident.md
  failover report -o postmortem.md
  failover report --format json")]
    Report(ReportArgs),

    /// The runbooks known: embedded defaults plus runbooks/ beside the config
    #[command(subcommand)]
    Runbook(RunbookCommand),

    /// Write a commented failover.toml (asks when interactive; flags otherwise)
    Init(InitArgs),

    /// Which account and zone the token reaches, and which needed permissions it has
    #[command(after_long_help = "\
Read-only: verifies the token, finds the account and the zone that holds the public host,
and checks each permission deploy-proxy and rollback need (Workers Scripts Edit on the
account; Workers Routes Edit, DNS Edit and Zone Read on the zone). A permission that reads
work for but that only a change could prove is shown as unverified (?).
Exit 0 when deploy and rollback could succeed, 2 when not.

Examples:
  failover whoami
  failover whoami --json | jq '.permissions[] | select(.state != \"granted\")'")]
    Whoami(WhoamiArgs),

    /// Print shell completions
    Completions(CompletionsArgs),
}

impl Command {
    /// Whether `--yes` was given after the command's name.
    pub fn yes(&self) -> bool {
        match self {
            Command::Diagnose(a) => a.confirm.yes,
            Command::DeployProxy(a) => a.confirm.yes,
            Command::Rollback(a) => a.confirm.yes,
            Command::Drill(a) => a.confirm.yes,
            Command::Init(a) => a.confirm.yes,
            _ => false,
        }
    }

    /// The name of a command that reports to CI (a step summary, annotations), if it is one.
    pub fn ci_name(&self) -> Option<&'static str> {
        match self {
            Command::Diagnose(_) => Some("diagnose"),
            Command::DeployProxy(_) => Some("deploy-proxy"),
            Command::Rollback(_) => Some("rollback"),
            Command::Status(_) => Some("status"),
            Command::Drill(_) => Some("drill"),
            // A scheduled `watch --once` is a CI step; a long-running watch is not.
            Command::Watch(a) if a.once => Some("watch"),
            _ => None,
        }
    }
}

/// Options that steer probes: shared by the commands that look at the platform path.
#[derive(Debug, Args, Clone, Default)]
pub struct ProbeArgs {
    /// Use this DNS resolver for every check, HTTP included (repeatable; replaces [dns].resolvers).
    /// "system", "IP" or "IP:PORT"
    #[arg(long = "resolver", value_name = "ADDR")]
    pub resolvers: Vec<String>,

    /// Pin HOST:PORT to ADDR, as curl does (repeatable)
    #[arg(long = "resolve", value_name = "HOST:PORT:ADDR")]
    pub resolve: Vec<String>,
}

/// `--yes`, listed by the commands that ask before acting. It shares its id with the hidden
/// global flag, so clap keeps one definition per command.
#[derive(Debug, Args, Clone, Default)]
pub struct Confirm {
    /// Assume yes to every confirmation
    #[arg(long = "yes", short = 'y', id = "yes")]
    pub yes: bool,
}

/// Options for talking to the Cloudflare API.
#[derive(Debug, Args, Clone, Default)]
pub struct ApiArgs {
    /// Read the API token from this file instead of CLOUDFLARE_API_TOKEN
    #[arg(long, value_name = "PATH")]
    pub api_token_file: Option<PathBuf>,
}

/// `diagnose` as typed: its arguments and `--yes` (which answers the offer to deploy).
/// Kept apart from `DiagnoseArgs`, which other commands build to run a diagnosis.
#[derive(Debug, Args)]
pub struct DiagnoseCommand {
    #[command(flatten)]
    pub args: DiagnoseArgs,
    #[command(flatten)]
    pub confirm: Confirm,
}

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    #[command(flatten)]
    pub probe: ProbeArgs,

    /// Use this runbook (a name, or a path to a runbook file)
    #[arg(long, value_name = "NAME|PATH")]
    pub runbook: Option<String>,
}

#[derive(Debug, Args, Default)]
pub struct DeployArgs {
    #[command(flatten)]
    pub probe: ProbeArgs,
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(flatten)]
    pub confirm: Confirm,

    /// Print the plan of API calls and the diff against live state; change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Print the rendered Worker script to stdout and touch nothing
    #[arg(long, conflicts_with = "dry_run")]
    pub print_script: bool,

    /// Render from this template instead of the embedded one
    #[arg(long, value_name = "PATH")]
    pub template: Option<PathBuf>,

    /// Take over a route for our pattern that another script owns
    #[arg(long)]
    pub force: bool,

    /// Skip verification through the public URL after applying
    #[arg(long)]
    pub no_verify: bool,

    /// Deploy ahead of an incident: the Worker sends each request through the platform path
    /// and serves it from the direct origin only when that path fails at the edge
    #[arg(long)]
    pub standby: bool,
}

#[derive(Debug, Args, Default)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub probe: ProbeArgs,
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(flatten)]
    pub confirm: Confirm,

    /// Print the plan; change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Roll back even though the platform path still fails
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub probe: ProbeArgs,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Args)]
pub struct WhoamiArgs {
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Args)]
pub struct DrillArgs {
    #[command(flatten)]
    pub confirm: Confirm,
    /// The workerd binary to run the Worker in [env: FAILOVER_WORKERD]
    #[arg(long, value_name = "PATH")]
    pub workerd: Option<PathBuf>,

    /// Play the incident with the standby proxy armed beforehand and requests flowing through
    /// the break and the recovery; report how many failed and when the path switched
    #[arg(long, conflicts_with = "watch")]
    pub standby: bool,

    /// Let `watch --auto` detect, deploy and roll back instead of the engineer
    #[arg(long)]
    pub watch: bool,

    /// The watch's interval in the drill (with --watch)
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval, requires = "watch")]
    pub interval: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub probe: ProbeArgs,
    #[command(flatten)]
    pub api: ApiArgs,

    /// Time between the starts of two cycles, e.g. 30s, 1m, 500ms [default: [watch].interval, else 30s]
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    pub interval: Option<std::time::Duration>,

    /// One cycle, then exit with its verdict's code (0 healthy, 3 otherwise)
    #[arg(long)]
    pub once: bool,

    /// Deploy and roll back on its own (consent, like --yes), after [watch] deploy_after /
    /// rollback_after cycles in a row
    #[arg(long)]
    pub auto: bool,

    /// Serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9184
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,

    /// Use this runbook (a name, or a path to a runbook file)
    #[arg(long, value_name = "NAME|PATH")]
    pub runbook: Option<String>,
}

/// A watch interval: "30s", "1m", "500ms" (at least 1 ms, at most a day). The config file's
/// `[watch].interval` is read with the same rule.
pub fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    let shown: String = s.chars().filter(|c| !c.is_control()).take(100).collect();
    let d = humantime::parse_duration(s.trim()).map_err(|e| {
        format!("{shown:?} is not a duration ({e}); write it as \"30s\", \"1m\" or \"500ms\"")
    })?;
    if d < std::time::Duration::from_millis(1) || d > std::time::Duration::from_secs(86_400) {
        return Err(format!("{shown:?} must be between 1ms and 24h"));
    }
    Ok(d)
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Output format (--json implies json)
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
    pub format: ReportFormat,

    /// Write to this file instead of stdout
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Markdown,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum RunbookCommand {
    /// List the runbooks known, embedded and your own
    List(RunbookListArgs),
    /// Show one runbook as Markdown, ready for a wiki
    Show(RunbookShowArgs),
}

#[derive(Debug, Args)]
pub struct RunbookListArgs {
    /// Also read this runbook file (overrides by id)
    #[arg(long, value_name = "PATH")]
    pub runbook: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunbookShowArgs {
    /// The runbook's id (see `failover runbook list`)
    pub name: String,
    /// Also read this runbook file (overrides by id)
    #[arg(long, value_name = "PATH")]
    pub runbook: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub confirm: Confirm,
    /// The URL users hit, e.g. https://api.example.com
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// The direct platform URL, e.g. https://myapp-abc123.herokuapp.com (repeatable)
    #[arg(long, value_name = "URL")]
    pub origin: Vec<String>,
    /// The path probed on the public URL and each origin [default: /]
    #[arg(long, value_name = "PATH")]
    pub health_path: Option<String>,
    /// A WebSocket endpoint to probe in diagnose and check after deploy, e.g. /cable
    #[arg(long, value_name = "PATH")]
    pub websocket_path: Option<String>,
    /// A comparison environment, usually in another region (repeatable)
    #[arg(long, value_name = "NAME=URL[,origin=URL,region=R]")]
    pub compare: Vec<String>,
    /// The Cloudflare zone (name or id)
    #[arg(long, value_name = "ZONE")]
    pub zone: Option<String>,
    /// The Cloudflare account id
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,
    /// Ask this DNS resolver for the public host's CNAME (repeatable) [default: system]
    #[arg(long = "resolver", value_name = "ADDR")]
    pub resolvers: Vec<String>,
    /// Overwrite an existing file
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for
    pub shell: clap_complete::Shell,
}
