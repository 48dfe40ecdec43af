use std::future::Future;
use std::time::{Duration, Instant};

use crate::ClusterError;

/// One look at the cluster while waiting: either the awaited value, or a description of what was
/// seen instead (which ends up in the timeout error, so a failure shows the last state).
pub enum Probe<T> {
    Ready(T),
    Pending(String),
}

/// Polls `check` until it is ready or `timeout` passes. Controllers converge asynchronously, so
/// tests wait for a condition rather than sleeping a guessed amount.
pub async fn poll<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T, ClusterError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Probe<T>, ClusterError>>,
{
    let started = Instant::now();
    let mut interval = Duration::from_millis(100);
    loop {
        let last = match check().await? {
            Probe::Ready(value) => return Ok(value),
            Probe::Pending(last) => last,
        };
        if started.elapsed() >= timeout {
            return Err(ClusterError::Timeout {
                what: what.to_owned(),
                waited: timeout,
                last,
            });
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_value_once_ready() -> Result<(), ClusterError> {
        let mut calls = 0;
        let value = poll("three calls", Duration::from_secs(5), || {
            calls += 1;
            let probe = if calls >= 3 {
                Probe::Ready(calls)
            } else {
                Probe::Pending(format!("{calls}"))
            };
            async move { Ok(probe) }
        })
        .await?;
        assert_eq!(value, 3);
        Ok(())
    }

    #[tokio::test]
    async fn timeout_reports_what_and_the_last_state() {
        let err = poll::<(), _, _>("the moon", Duration::from_millis(50), || async {
            Ok(Probe::Pending("still cheese".into()))
        })
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            err.contains("the moon") && err.contains("still cheese"),
            "{err}"
        );
    }
}
