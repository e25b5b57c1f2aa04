//! What a batch tells the people and schedulers watching it, on standard error: tracing events
//! (one per pipeline start, skip and finish) as text lines or JSON lines, and a progress bar that
//! is drawn only when standard error is a terminal (never in CI, tests or pipes).
use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing::Dispatch;
use tracing_subscriber::fmt::MakeWriter;

/// How tracing events are written on standard error.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One line per event for people: time, level, message, then `key=value` fields.
    #[default]
    Text,
    /// One JSON object per line for schedulers: `timestamp`, `level`, `message` and the fields.
    Json,
}

/// A progress bar over `n` pipelines on standard error, or `None` when standard error is not a
/// terminal or the environment says it is CI.
pub fn progress(n: usize) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() || std::env::var_os("CI").is_some() {
        return None;
    }
    let style = ProgressStyle::with_template("{bar:30} {pos}/{len} pipelines [{elapsed}] {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    let bar = ProgressBar::with_draw_target(Some(n as u64), ProgressDrawTarget::stderr());
    bar.set_style(style);
    Some(bar)
}

/// Whether events are text lines (where a line break inside a field must be escaped).
static TEXT: AtomicBool = AtomicBool::new(true);

/// A field value for an event: in text format, line breaks are escaped (`\n`) so that one event
/// stays one line; JSON escapes them itself.
pub fn one_line(s: &str) -> Cow<'_, str> {
    match TEXT.load(Ordering::Relaxed) && s.contains(['\n', '\r']) {
        true => Cow::Owned(s.replace('\r', "\\r").replace('\n', "\\n")),
        false => Cow::Borrowed(s),
    }
}

/// A message for a text line: continuation lines indented under the first, so they never look
/// like new events.
pub fn indented(s: &str) -> String {
    s.trim_end().replace('\n', "\n    ")
}

/// The subscriber for a batch: INFO and above, in `format`, on standard error; lines are written
/// with the progress bar (if any) lifted out of the way.
pub fn dispatch(format: LogFormat, bar: Option<ProgressBar>) -> Dispatch {
    TEXT.store(format == LogFormat::Text, Ordering::Relaxed);
    let writer = Stderr { bar };
    let builder = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_max_level(tracing::Level::INFO)
        .with_target(false)
        .with_ansi(false);
    match format {
        LogFormat::Text => Dispatch::new(builder.finish()),
        LogFormat::Json => Dispatch::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .finish(),
        ),
    }
}

/// Standard error, under the progress bar's `suspend` when there is one.
#[derive(Clone)]
struct Stderr {
    bar: Option<ProgressBar>,
}

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let write = || std::io::stderr().lock().write_all(buf);
        match &self.bar {
            Some(bar) => bar.suspend(write)?,
            None => write()?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Stderr;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A writer (the batch's log on standard output) that lifts the progress bar while it writes.
pub struct AroundBar<'a> {
    pub inner: &'a mut dyn Write,
    pub bar: Option<&'a ProgressBar>,
}

impl Write for AroundBar<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let inner = &mut self.inner;
        match self.bar {
            Some(bar) => bar.suspend(|| inner.write(buf)),
            None => inner.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
