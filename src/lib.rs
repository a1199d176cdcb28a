//! failover: diagnose a platform DNS-target outage and keep the app online through an emergency
//! Cloudflare Worker proxy, then remove it. `run` builds the runtime, dispatches one command and
//! turns its outcome into the process exit code; everything else lives in the modules below.

pub mod apply;
pub mod cli;
pub mod cloudflare;
pub mod commands;
pub mod config;
pub mod deploy;
pub mod diagnose;
pub mod drill;
pub mod engine;
pub mod exit;
pub mod init;
pub mod metrics;
pub mod notify;
pub mod observation;
pub mod plan;
pub mod probe;
pub mod recorded;
pub mod report;
pub mod rollback;
pub mod runbook;
pub mod sandbox;
pub mod secret;
pub mod state;
pub mod text;
pub mod ui;
pub mod walkthrough;
pub mod watch;
pub mod worker;

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;

use crate::cli::{Cli, ColorChoice, Command, GlobalArgs};
use crate::config::{Env, LoadedFile, Settings};
use crate::exit::{exit_of, Exit};
use crate::state::Journal;
use crate::ui::{Printer, Verbosity};

/// What every command gets: the printer, the environment captured once, and the global flags.
pub struct Ctx {
    pub printer: Printer,
    pub env: Env,
    pub config_flag: Option<PathBuf>,
    pub state_dir_flag: Option<PathBuf>,
}

impl Ctx {
    fn new(global: &GlobalArgs, yes: bool, env: Env) -> Self {
        let stdin_tty = ui::stdin_is_tty();
        let stderr_tty = ui::stderr_is_tty();
        // Each stream on its own: a terminal on stderr says nothing about a pipe on stdout.
        let color_for = |tty: bool| match global.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && !env.no_color,
        };
        let color = ui::StreamColor {
            stdout: color_for(ui::stdout_is_tty()),
            stderr: color_for(stderr_tty),
        };
        let printer = Printer {
            json: global.json,
            yes,
            interactive: stdin_tty && stderr_tty && !global.no_input && !env.ci && !global.json,
            verbosity: if global.quiet {
                Verbosity::Quiet
            } else if global.verbose > 0 {
                Verbosity::Verbose
            } else {
                Verbosity::Normal
            },
            color,
            stderr_tty,
            stdout_tty: ui::stdout_is_tty(),
        };
        Ctx {
            printer,
            env,
            config_flag: global.config.clone(),
            state_dir_flag: global.state_dir.clone(),
        }
    }

    /// The config file this run reads: `--config` > `$FAILOVER_CONFIG` > `./failover.toml`.
    pub fn config_path(&self) -> PathBuf {
        config::config_path(self.config_flag.as_deref(), &self.env)
    }

    /// Reads and validates the config with the command's flags; errors exit 2.
    pub fn settings(&self, probe: &cli::ProbeArgs, api: &cli::ApiArgs) -> Result<Settings> {
        let file = LoadedFile::read(&self.config_path())?;
        Ok(Settings::resolve(&file, &self.env, probe, api)?)
    }

    /// `.failover/` beside the config (or here), unless `--state-dir` / `FAILOVER_STATE_DIR`.
    pub fn state_dir(&self) -> PathBuf {
        config::state_dir(self.state_dir_flag.as_deref(), Some(&self.config_path()))
    }

    pub fn journal(&self, command: &str) -> Result<Journal> {
        Journal::open(&self.state_dir(), command)
    }

    /// The journal of a command that only observes: a state directory that cannot be written
    /// is a warning, and the command runs unjournaled.
    pub fn journal_or_skip(&self, command: &str) -> Journal {
        Journal::open_or_skip(&self.state_dir(), command, |w| self.printer.warn(w))
    }

    /// The `runbooks/` folder beside the config file (or here when there is none).
    pub fn runbook_dir(&self) -> PathBuf {
        let config = self.config_path();
        config
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."))
            .join("runbooks")
    }

    /// Every runbook known to this run (embedded, the user's, and `extra` given by path); a
    /// broken runbook file is a usage error (exit 2).
    pub fn runbooks(&self, extra: Option<&std::path::Path>) -> Result<runbook::Catalog> {
        engine::load_runbooks(Some(&self.runbook_dir()), extra)
            .map_err(|e| exit::Fatal::usage(e.to_string()).into())
    }

    /// Where GitHub Actions wants summaries and annotations (nowhere outside it).
    pub fn github(&self) -> report::github::GitHub {
        report::github::GitHub {
            step_summary: self.env.github_step_summary.as_ref().map(PathBuf::from),
            annotations: self.env.github_actions,
        }
    }

    /// Hands a command's CI summary to GitHub Actions. A summary that cannot be written is a
    /// warning: the command's own result and exit code stand.
    pub fn publish_ci(&self, summary: &report::github::CiSummary) {
        if let Err(e) = self.github().publish(summary) {
            self.printer.warn(format!("{e:#}"));
        }
    }
}

/// Parses `args`, runs the command, prints the outcome, returns the exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> std::process::ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    let json = args.iter().any(|a| a == "--json");
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, json),
    };
    let yes = cli.global.yes || cli.command.yes();
    let ctx = Ctx::new(&cli.global, yes, Env::capture());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            ctx.printer.error(
                &anyhow::Error::new(e).context("cannot start the async runtime"),
                Exit::Failure,
            );
            return exit_code(Exit::Failure);
        }
    };
    let ci_name = cli.command.ci_name();
    let outcome = runtime.block_on(async {
        match cli.command {
            // The watch turns SIGINT and SIGTERM into a stop request of its own, so that a
            // change in flight completes before it exits.
            Command::Watch(args) => commands::watch::run(&ctx, &args).await,
            command => tokio::select! {
                r = dispatch(&ctx, command) => r,
                _ = tokio::signal::ctrl_c() => Err(exit::Fatal::new(Exit::Interrupted, "interrupted").into()),
            },
        }
    });
    // Spinners hide the cursor; an interrupt must not leave it hidden.
    if ctx.printer.stderr_tty {
        let _ = console::Term::stderr().show_cursor();
    }
    // Background servers (the drill's world) must not hold the process open.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    let exit = match outcome {
        Ok(exit) => exit,
        Err(err) => {
            let exit = exit_of(&err);
            if exit != Exit::Interrupted || ctx.printer.json {
                ctx.printer.error(&err, exit);
            } else {
                ctx.printer.interrupted();
            }
            if let Some(command) = ci_name.filter(|_| exit != Exit::Interrupted) {
                let message = text::sanitize(&format!("{err:#}"));
                ctx.publish_ci(&ctx.github().failure(command, &message));
            }
            exit
        }
    };
    exit_code(exit)
}

async fn dispatch(ctx: &Ctx, command: Command) -> Result<Exit> {
    match command {
        Command::Diagnose(cmd) => commands::diagnose::run(ctx, &cmd.args).await,
        Command::DeployProxy(args) => commands::deploy::run(ctx, &args).await,
        Command::Rollback(args) => commands::rollback::run(ctx, &args).await,
        Command::Status(args) => commands::status::run(ctx, &args).await,
        Command::Drill(args) => commands::drill::run(ctx, &args).await,
        Command::Watch(args) => commands::watch::run(ctx, &args).await,
        Command::Report(args) => commands::report::run(ctx, &args).await,
        Command::Runbook(cmd) => commands::runbook::run(ctx, &cmd).await,
        Command::Init(args) => commands::init::run(ctx, &args).await,
        Command::Whoami(args) => commands::whoami::run(ctx, &args).await,
        Command::Completions(args) => commands::completions::run(ctx, &args),
    }
}

fn usage_error(e: clap::Error, json: bool) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        let code = if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            Exit::Usage
        } else {
            Exit::Success
        };
        return exit_code(code);
    }
    if json {
        Printer::plain(true).error(
            &anyhow::anyhow!("{}", e.kind()).context(e.to_string().trim().to_owned()),
            Exit::Usage,
        );
    } else {
        let _ = e.print();
    }
    exit_code(Exit::Usage)
}

fn exit_code(exit: Exit) -> std::process::ExitCode {
    std::process::ExitCode::from(exit.code())
}
