//! The only users of dialoguer and indicatif: where output goes, prompts, progress.
//!
//! stdout carries the result and only the result (one JSON document under `--json`);
//! progress, prompts and warnings go to stderr. Prompts never block a non-interactive run.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Result;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::exit::{Exit, Fatal};
use crate::text::sanitize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Decides where every piece of output goes. Built once from the global flags.
#[derive(Debug, Clone)]
pub struct Printer {
    pub json: bool,
    pub yes: bool,
    /// A person is at a terminal and may be asked things.
    pub interactive: bool,
    pub verbosity: Verbosity,
    /// Colour is decided per stream: `failover diagnose | tee out.txt` from a terminal keeps
    /// colour on stderr and writes plain text to the file.
    pub color: StreamColor,
    /// stderr is a terminal (spinners are drawn only there).
    pub stderr_tty: bool,
    /// stdout is a terminal: the human result is wrapped to its width.
    pub stdout_tty: bool,
}

/// Whether each stream gets colour. Text is painted when either does and stripped on the way
/// to a stream that does not, so one rendering serves both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamColor {
    pub stdout: bool,
    pub stderr: bool,
}

impl Printer {
    /// A printer for tests and embedded runs: no prompts, no colour, no progress.
    pub fn plain(json: bool) -> Self {
        Printer {
            json,
            yes: true,
            interactive: false,
            verbosity: Verbosity::Normal,
            color: StreamColor::default(),
            stderr_tty: false,
            stdout_tty: false,
        }
    }

    /// Print a command's result: the JSON document under `--json`, else the human text.
    /// A reader that went away (`| head -1`) is not an error: the command's exit code stands.
    pub fn result<T: Serialize>(&self, doc: &T, human: impl FnOnce() -> String) -> Result<()> {
        if self.json {
            let mut text = serde_json::to_string_pretty(doc)?;
            text.push('\n');
            write_stdout(&text)
        } else {
            let mut text = self.for_stdout(human());
            if !text.ends_with('\n') {
                text.push('\n');
            }
            write_stdout(&text)
        }
    }

    /// Raw bytes to stdout (a rendered script, a report): the result itself.
    pub fn raw(&self, text: &str) -> Result<()> {
        write_stdout(text)
    }

    /// The top-level error: a `failover.error/v1` document under `--json`, else the chain on stderr.
    pub fn error(&self, err: &anyhow::Error, exit: Exit) {
        let message = sanitize(&err.to_string());
        let causes: Vec<String> = err
            .chain()
            .skip(1)
            .map(|c| sanitize(&c.to_string()))
            .collect();
        if self.json {
            let doc = serde_json::json!({
                "schema": "failover.error/v1",
                "error": {"kind": exit.kind(), "message": message, "causes": causes},
            });
            let _ = writeln!(
                std::io::stdout(),
                "{}",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            );
        } else {
            let mut text = format!("{} {message}", self.paint("error:", Paint::Red));
            for cause in causes {
                text.push_str(&format!("\n  caused by: {cause}"));
            }
            let _ = writeln!(std::io::stderr(), "{}", self.for_stderr(text));
        }
    }

    /// After Ctrl-C: the shell's prompt must start on a fresh line, after a word saying why the
    /// run ended (the terminal may have echoed `^C` mid-line, or a prompt may be half drawn).
    pub fn interrupted(&self) {
        let word = self.for_stderr(self.paint("interrupted", Paint::Yellow));
        if self.stderr_tty {
            let _ = write!(std::io::stderr(), "\n{word}\n");
        } else {
            let _ = writeln!(std::io::stderr(), "{word}");
        }
    }

    /// A line on stderr for the person watching (hidden under `-q`; shown under `--json`).
    pub fn info(&self, msg: impl AsRef<str>) {
        if self.verbosity != Verbosity::Quiet && !self.json {
            let _ = writeln!(std::io::stderr(), "{}", self.for_stderr(msg.as_ref()));
        }
    }

    /// A line on stderr shown only with `-v`.
    pub fn debug(&self, msg: impl AsRef<str>) {
        if self.verbosity == Verbosity::Verbose {
            let _ = writeln!(
                std::io::stderr(),
                "{}",
                self.for_stderr(self.paint(msg.as_ref(), Paint::Dim))
            );
        }
    }

    /// A warning on stderr; always shown except under `-q`.
    pub fn warn(&self, msg: impl AsRef<str>) {
        if self.verbosity != Verbosity::Quiet {
            let line = format!("{} {}", self.paint("warning:", Paint::Yellow), msg.as_ref());
            let _ = writeln!(std::io::stderr(), "{}", self.for_stderr(line));
        }
    }

    /// Ask before a change. `--yes` answers yes; without a terminal the answer is a refusal
    /// (exit 4) that says how to proceed, never a prompt that blocks.
    pub fn confirm(&self, question: &str, how_to_skip: &str) -> Result<bool> {
        if self.yes {
            return Ok(true);
        }
        if !self.interactive {
            return Err(Fatal::refused(format!(
                "confirmation needed and no terminal to ask on: {question}; {how_to_skip}"
            ))
            .into());
        }
        let answer = dialoguer::Confirm::new()
            .with_prompt(question)
            .default(false)
            .interact_opt()
            .map_err(prompt_error)?;
        match answer {
            Some(a) => Ok(a),
            None => Err(Fatal::new(Exit::Interrupted, "cancelled").into()),
        }
    }

    /// Ask for a line of text (interactive only; callers check `interactive` first).
    pub fn input(
        &self,
        prompt: &str,
        default: Option<&str>,
        validate: impl Fn(&String) -> Result<(), String>,
    ) -> Result<String> {
        if !self.interactive {
            return Err(Fatal::usage(format!(
                "{prompt}: needed, and there is no terminal to ask on"
            ))
            .into());
        }
        let mut input = dialoguer::Input::<String>::new()
            .with_prompt(prompt)
            .report(false);
        if let Some(d) = default {
            input = input.default(d.to_owned());
        }
        let answer = input
            .validate_with(|s: &String| validate(s))
            .interact_text()
            .map_err(prompt_error)?;
        // dialoguer clears only the row the cursor is on when the answer is entered, so a
        // prompt and answer wider than the terminal would leave their first rows behind and
        // the prompt would show twice. Those rows are cleared here, then the answer is shown.
        let term = console::Term::stderr();
        let typed = if Some(answer.as_str()) == default {
            ""
        } else {
            answer.as_str()
        };
        let shown = match default {
            Some(d) => format!("{prompt} [{d}]: {typed}"),
            None => format!("{prompt}: {typed}"),
        };
        let rows = rows_taken(console::measure_text_width(&shown), term.size().1 as usize);
        if rows > 1 {
            let _ = term.clear_last_lines(rows - 1);
        }
        let _ = term.write_line(&format!("{prompt}: {answer}"));
        Ok(answer)
    }

    /// Pick one of several items (interactive only).
    pub fn select(&self, prompt: &str, items: &[String], default: usize) -> Result<usize> {
        if !self.interactive {
            return Ok(default);
        }
        dialoguer::Select::new()
            .with_prompt(prompt)
            .items(items)
            .default(default)
            .interact()
            .map_err(prompt_error)
    }

    /// Wait for Enter (the drill's pauses); a no-op without a terminal.
    pub fn pause(&self, msg: &str) -> Result<()> {
        if !self.interactive || self.yes {
            return Ok(());
        }
        let term = console::Term::stderr();
        let _ = term.write_str(&format!("{} ", self.paint(msg, Paint::Dim)));
        term.read_line()
            .map_err(|e| prompt_error(dialoguer::Error::IO(e)))?;
        Ok(())
    }

    /// One keypress at a walk-through: `e` shows the evidence, `a` runs to the end without
    /// stopping, `w` takes the walk offered, anything else goes on. Without a terminal (or with `--yes`) it asks
    /// nothing and goes on. Ctrl-C restores the terminal and ends the run (exit 130).
    pub fn step_key(&self, hint: &str) -> Result<StepKey> {
        if !self.interactive || self.yes {
            return Ok(StepKey::Next);
        }
        let term = console::Term::stderr();
        let _ = term.write_str(&format!("  {}", self.paint(hint, Paint::Dim)));
        // read_key_raw hands Ctrl-C back as a key instead of raising SIGINT from raw mode, so
        // the line is cleared before the run ends.
        let key = term.read_key_raw();
        let _ = term.clear_line();
        match key.map_err(|e| prompt_error(dialoguer::Error::IO(e)))? {
            console::Key::CtrlC => Err(Fatal::new(Exit::Interrupted, "interrupted").into()),
            console::Key::Char('e' | 'E') => Ok(StepKey::Evidence),
            console::Key::Char('a' | 'A') => Ok(StepKey::All),
            console::Key::Char('w' | 'W') => Ok(StepKey::Walk),
            _ => Ok(StepKey::Next),
        }
    }

    /// A set of spinners, drawn only on a terminal and never under `--json` or `-q`.
    pub fn progress(&self) -> Progress {
        let visible = self.stderr_tty && !self.json && self.verbosity != Verbosity::Quiet;
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Progress {
            multi: MultiProgress::with_draw_target(target),
        }
    }

    /// Text as it may go to stdout: our own escape codes removed when stdout gets no colour.
    /// (Remote text never carries live escapes: `sanitize` shows them escaped.)
    pub fn for_stdout(&self, text: impl AsRef<str>) -> String {
        strip_unless(self.color.stdout, text.as_ref())
    }

    /// Text as it may go to stderr.
    pub fn for_stderr(&self, text: impl AsRef<str>) -> String {
        strip_unless(self.color.stderr, text.as_ref())
    }

    /// The width of the terminal on stderr, when it is one: lines for it are wrapped to it.
    pub fn stderr_cols(&self) -> Option<usize> {
        self.stderr_tty
            .then(|| console::Term::stderr().size().1 as usize)
    }

    /// The width of the terminal on stdout, when the human result goes to one.
    pub fn stdout_cols(&self) -> Option<usize> {
        (self.stdout_tty && !self.json).then(|| console::Term::stdout().size().1 as usize)
    }

    /// Colours `text` when either stream takes colour; each write strips what its stream
    /// does not take.
    pub fn paint(&self, text: &str, paint: Paint) -> String {
        if !self.color.stdout && !self.color.stderr {
            return text.to_owned();
        }
        let style = console::Style::new().force_styling(true);
        let style = match paint {
            Paint::Red => style.red().bold(),
            Paint::Green => style.green().bold(),
            Paint::Yellow => style.yellow().bold(),
            Paint::Bold => style.bold(),
            Paint::Dim => style.dim(),
            Paint::Cyan => style.cyan(),
        };
        style.apply_to(text).to_string()
    }
}

/// Each line of `text` wrapped at word boundaries to a terminal `cols` wide (unchanged when
/// there is no terminal): a line keeps its own leading indentation, and its continuation lines
/// start with `indent`, so a story or an evidence line stays in its column, gutter included.
pub fn wrap(text: &str, indent: &str, cols: Option<usize>) -> String {
    let Some(cols) = cols.filter(|c| *c > console::measure_text_width(indent) + 20) else {
        return text.to_owned();
    };
    let mut out: Vec<String> = Vec::new();
    for line in text.split('\n') {
        if console::measure_text_width(line) <= cols {
            out.push(line.to_owned());
            continue;
        }
        let body = line.trim_start_matches(' ');
        let lead = &line[..line.len() - body.len()];
        let options = textwrap::Options::new(cols)
            .initial_indent(lead)
            .subsequent_indent(indent)
            // Host names and URLs are not split at their hyphens; only a word wider than the
            // whole line is broken.
            .word_splitter(textwrap::WordSplitter::NoHyphenation)
            .break_words(true);
        out.extend(
            textwrap::wrap(body, options)
                .into_iter()
                .map(|l| l.into_owned()),
        );
    }
    out.join("\n")
}

/// How many terminal rows a line of `width` columns takes on a terminal `cols` wide.
fn rows_taken(width: usize, cols: usize) -> usize {
    if cols == 0 {
        1
    } else {
        width.div_ceil(cols).max(1)
    }
}

/// Writes the result to stdout. A closed stdout (the reader exited) ends the output quietly;
/// any other failure to write is an error.
fn write_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn strip_unless(keep: bool, text: &str) -> String {
    if keep {
        text.to_owned()
    } else {
        console::strip_ansi_codes(text).into_owned()
    }
}

/// What a person asked for after a walk-through step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKey {
    Next,
    Evidence,
    All,
    /// `w`: take the walk-through that is offered.
    Walk,
}

#[derive(Debug, Clone, Copy)]
pub enum Paint {
    Red,
    Green,
    Yellow,
    Bold,
    Dim,
    Cyan,
}

fn prompt_error(e: dialoguer::Error) -> anyhow::Error {
    match e {
        dialoguer::Error::IO(io) if io.kind() == std::io::ErrorKind::Interrupted => {
            Fatal::new(Exit::Interrupted, "interrupted").into()
        }
        dialoguer::Error::IO(io) => {
            anyhow::Error::new(io).context("cannot read the answer from the terminal")
        }
    }
}

/// Spinners for concurrent checks.
pub struct Progress {
    multi: MultiProgress,
}

impl Progress {
    pub fn spinner(&self, label: impl Into<String>) -> Spinner {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}")
                .expect("static template")
                .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏✓"),
        );
        bar.set_message(label.into());
        bar.enable_steady_tick(Duration::from_millis(80));
        Spinner { bar }
    }

    /// Print a line above the spinners without tearing them.
    pub fn println(&self, line: impl AsRef<str>) {
        if self.multi.is_hidden() {
            return;
        }
        let _ = self.multi.println(line.as_ref());
    }
}

pub struct Spinner {
    bar: ProgressBar,
}

impl Spinner {
    pub fn set_message(&self, msg: impl Into<String>) {
        self.bar.set_message(msg.into());
    }
    /// Stop spinning and leave the final line.
    pub fn finish(&self, msg: impl Into<String>) {
        self.bar
            .set_style(ProgressStyle::with_template("{msg}").expect("static template"));
        self.bar.finish_with_message(msg.into());
    }
    /// Stop and erase the line.
    pub fn clear(&self) {
        self.bar.finish_and_clear();
    }
}

/// Whether stdin/stderr are terminals (asked once by the entry point).
pub fn stdin_is_tty() -> bool {
    std::io::stdin().is_terminal()
}
pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}
pub fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without a person at a terminal a walk-through never waits for a key.
    #[test]
    fn step_key_never_waits_without_a_terminal() {
        let mut p = Printer::plain(false);
        assert_eq!(p.step_key("e: evidence").unwrap(), StepKey::Next);
        p.yes = false;
        assert_eq!(p.step_key("e: evidence").unwrap(), StepKey::Next);
    }

    #[test]
    fn long_lines_wrap_with_their_gutter() {
        let line = "      │ one two three four five six seven eight nine ten";
        assert_eq!(wrap(line, "      │   ", None), line);
        assert_eq!(wrap(line, "      │   ", Some(200)), line);
        assert_eq!(
            wrap(line, "      │   ", Some(33)),
            "      │ one two three four five\n      │   six seven eight nine\n      │   ten"
        );
        assert_eq!(
            wrap("short\n  a b c d e f g h i j k l m n o p", "    ", Some(25)),
            "short\n  a b c d e f g h i j k l\n    m n o p"
        );
    }

    #[test]
    fn wrapped_rows() {
        assert_eq!(rows_taken(0, 80), 1);
        assert_eq!(rows_taken(80, 80), 1);
        assert_eq!(rows_taken(81, 80), 2);
        assert_eq!(rows_taken(200, 0), 1);
    }
}
