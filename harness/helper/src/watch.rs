//! `krill snapshot --every`: the chart's snapshot sidecar. The first snapshot comes shortly after
//! start (a krill restarted every few hours would otherwise never get one), then one per interval;
//! SIGTERM or SIGINT takes one last snapshot and ends the loop, so what the agent did since the last
//! interval survives a rollout. A failed snapshot is reported and tried again at the next interval:
//! the loop only ends on a signal.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};

use crate::paths::{KrillName, Paths};
use crate::snapshot::{self, SnapshotError, SnapshotOptions, SnapshotReport};

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("blocking SIGTERM and SIGINT for the snapshot loop: {0}")]
    Signals(nix::Error),
    #[error("starting the thread that waits for signals: {0}")]
    Thread(std::io::Error),
}

/// When snapshots are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// From start to the first snapshot.
    pub first_after: Duration,
    /// From the start of one snapshot to the start of the next.
    pub every: Duration,
}

/// What the loop reports as it goes; the caller prints it.
#[derive(Debug)]
pub enum Event {
    Snapshot {
        report: SnapshotReport,
        /// The one taken on the way out.
        last: bool,
    },
    Failed {
        error: SnapshotError,
        last: bool,
        /// When the next try comes; `None` for the last one.
        retry_in: Option<Duration>,
    },
    /// A signal (or the loss of the signal thread) ends the loop after one more snapshot.
    Stopping { signal: Option<Signal> },
}

/// `30s`, `2m`, `6h`, `1d` (the chart's `snapshots.interval` format; `0s` too).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad =
        || format!("{text:?} is not a duration (expected a number with s, m, h or d: 90s, 6h)");
    let unit = t.chars().last().ok_or_else(bad)?;
    let seconds_per = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        _ => return Err(bad()),
    };
    let digits = &t[..t.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    n.checked_mul(seconds_per)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// An interval: a duration above zero (`0s` would snapshot back to back).
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        Duration::ZERO => Err(format!("{text:?}: the interval must be above zero")),
        interval => Ok(interval),
    }
}

/// SIGTERM and SIGINT, delivered as messages instead of killing the process: both are blocked and
/// a thread of their own waits for them. Call it before starting any other thread: threads inherit
/// the blocked set, and one that did not would take the default action (exit) for the process.
/// Blocked signals also reach a process that is PID 1 of its container, which ignores unhandled
/// ones.
pub fn stop_signals() -> Result<Receiver<Signal>, WatchError> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set.thread_block().map_err(WatchError::Signals)?;
    let (send, receive) = mpsc::channel();
    std::thread::Builder::new()
        .name("krill-signals".to_owned())
        .spawn(move || {
            while let Ok(signal) = set.wait() {
                if send.send(signal).is_err() {
                    return;
                }
            }
        })
        .map_err(WatchError::Thread)?;
    Ok(receive)
}

/// Snapshots on `schedule` until a message arrives on `stop` (or it disconnects), then one last
/// snapshot; returns the signal that ended it. A signal that arrives during a snapshot waits for it
/// to finish: an export cut short would only leave a temporary file behind.
pub fn watch(
    paths: &Paths,
    name: &KrillName,
    options: &SnapshotOptions,
    schedule: Schedule,
    stop: &Receiver<Signal>,
    on_event: &mut dyn FnMut(Event),
) -> Option<Signal> {
    let mut next = Instant::now() + schedule.first_after;
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        let signal = match stop.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {
                let started = Instant::now();
                // A long snapshot pushes the next one back rather than running two back to back.
                next = started + schedule.every;
                let retry_in = next.saturating_duration_since(Instant::now());
                on_event(once(paths, name, options, false, Some(retry_in)));
                continue;
            }
            Ok(signal) => Some(signal),
            Err(RecvTimeoutError::Disconnected) => None,
        };
        on_event(Event::Stopping { signal });
        // Unchanged since the last one (the usual case): nothing is written.
        on_event(once(paths, name, options, true, None));
        return signal;
    }
}

fn once(
    paths: &Paths,
    name: &KrillName,
    options: &SnapshotOptions,
    last: bool,
    retry_in: Option<Duration>,
) -> Event {
    match snapshot::snapshot(paths, name, options) {
        Ok(report) => Event::Snapshot { report, last },
        Err(error) => Event::Failed {
            error,
            last,
            retry_in,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("0s", 0)]
    #[case("90s", 90)]
    #[case("2m", 120)]
    #[case("6h", 6 * 3600)]
    #[case("1d", 86400)]
    fn durations(#[case] text: &str, #[case] seconds: u64) {
        assert_eq!(parse_duration(text), Ok(Duration::from_secs(seconds)));
    }

    #[rstest]
    #[case("")]
    #[case("6")]
    #[case("h")]
    #[case("-1h")]
    #[case("1.5h")]
    #[case("6 hours")]
    #[case("99999999999999999999d")]
    fn bad_durations(#[case] text: &str) {
        assert!(parse_duration(text).is_err(), "{text}");
    }

    #[test]
    fn an_interval_is_above_zero() {
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("0h").is_err());
        assert_eq!(parse_interval("1s"), Ok(Duration::from_secs(1)));
    }
}
