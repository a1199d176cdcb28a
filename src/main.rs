//! The doorway: parse the command line, run it, exit with its code.

fn main() -> std::process::ExitCode {
    failover::run(std::env::args_os())
}
