//! What is on a krill's volume, asked inside its pod (the snapshot sidecar when there is one):
//! the volume's use and the snapshots in `/krill/snapshots`; taking one now; copying one out.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::error::CliError;
use crate::exec;
use crate::krills::{GATEWAY_CONTAINER, Krill, SNAPSHOT_CONTAINER};
use crate::target::Target;

/// Where the chart mounts the volume and the snapshots (docs/pod-contract.md).
const DATA_DIR: &str = "/krill/data";
const SNAPSHOT_DIR: &str = "/krill/snapshots";

#[derive(Debug, Clone, Serialize)]
pub struct Volume {
    pub used_bytes: u64,
    pub size_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SnapshotFile {
    pub file: String,
    /// Seconds since the epoch (the file's modification time: when the export finished).
    pub time: i64,
    pub bytes: u64,
}

#[derive(Debug, Clone)]
pub struct Probe {
    /// The pod has the snapshot sidecar (`snapshots.enabled`); without it there are none to list.
    pub sidecar: bool,
    pub volume: Volume,
    /// Oldest first.
    pub snapshots: Vec<SnapshotFile>,
}

/// The container to ask: the snapshot sidecar (where `krill snapshot` runs with the release's
/// retention rules) when the pod has one, else the gateway's.
pub fn container_of(krill: &Krill) -> &'static str {
    let has_sidecar = krill
        .pod
        .as_ref()
        .and_then(|p| p.spec.as_ref())
        .is_some_and(|s| s.containers.iter().any(|c| c.name == SNAPSHOT_CONTAINER));
    if has_sidecar {
        SNAPSHOT_CONTAINER
    } else {
        GATEWAY_CONTAINER
    }
}

pub async fn probe(target: &Target, krill: &Krill, timeout: Duration) -> Result<Probe, CliError> {
    // One exec for both: df's POSIX format, then one line per archive. Archives being written
    // are dot-files (`.<name>.<random>.tmp`) and so never match.
    let script = format!(
        "df -kP {DATA_DIR} | tail -n 1; \
         find {SNAPSHOT_DIR} -maxdepth 1 -name '*.claw' -printf '%T@ %s %f\\n' 2>/dev/null; true"
    );
    let command = vec!["sh".to_owned(), "-c".to_owned(), script];
    let container = container_of(krill);
    let out = exec::capture(target, krill, container, &command, None, timeout).await?;
    parse_probe(
        &String::from_utf8_lossy(&out.stdout),
        container == SNAPSHOT_CONTAINER,
    )
    .ok_or_else(|| CliError::Exec {
        name: krill.name.clone(),
        pod: krill.pod_name.clone(),
        what: format!("reading the volume in container {container}"),
        detail: format!(
            "unexpected output (exit {}): {}",
            out.code,
            out.stderr.trim()
        ),
    })
}

fn parse_probe(text: &str, sidecar: bool) -> Option<Probe> {
    let mut lines = text.lines();
    let df: Vec<&str> = lines.next()?.split_whitespace().collect();
    let size_kib: u64 = df.get(1)?.parse().ok()?;
    let used_kib: u64 = df.get(2)?.parse().ok()?;
    let mut snapshots: Vec<SnapshotFile> = lines
        .filter_map(|line| {
            let mut fields = line.splitn(3, ' ');
            let time: f64 = fields.next()?.parse().ok()?;
            let bytes = fields.next()?.parse().ok()?;
            let file = fields.next()?.to_owned();
            Some(SnapshotFile {
                file,
                time: time as i64,
                bytes,
            })
        })
        .collect();
    snapshots.sort_by(|a, b| (a.time, &a.file).cmp(&(b.time, &b.file)));
    Some(Probe {
        sidecar,
        volume: Volume {
            used_bytes: used_kib * 1024,
            size_bytes: size_kib * 1024,
        },
        snapshots,
    })
}

/// Takes a snapshot now with the helper, under the release's retention and free-space rules
/// (the sidecar's environment); prints what the helper printed.
pub async fn take(target: &Target, krill: &Krill) -> Result<String, CliError> {
    krill.running_pod(target.namespace())?;
    if container_of(krill) != SNAPSHOT_CONTAINER {
        return Err(CliError::SnapshotsOff {
            name: krill.name.clone(),
        });
    }
    let command: Vec<String> = ["krill", "snapshot", "--out", SNAPSHOT_DIR]
        .map(str::to_owned)
        .to_vec();
    let container = container_of(krill);
    let out = exec::capture(
        target,
        krill,
        container,
        &command,
        None,
        Duration::from_secs(30 * 60),
    )
    .await?;
    if out.code != 0 {
        return Err(CliError::Exec {
            name: krill.name.clone(),
            pod: krill.pod_name.clone(),
            what: "`krill snapshot`".into(),
            detail: format!("exit {}: {}", out.code, out.stderr.trim()),
        });
    }
    Ok(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        out.stderr
    ))
}

/// Which snapshot `wanted` means (a file name, with or without `.claw`), or the newest.
pub fn pick(krill: &Krill, probe: &Probe, wanted: Option<&str>) -> Result<SnapshotFile, CliError> {
    if !probe.sidecar {
        return Err(CliError::SnapshotsOff {
            name: krill.name.clone(),
        });
    }
    let Some(wanted) = wanted else {
        return probe
            .snapshots
            .last()
            .cloned()
            .ok_or_else(|| CliError::NoSnapshot {
                name: krill.name.clone(),
            });
    };
    probe
        .snapshots
        .iter()
        .find(|s| s.file == wanted || s.file.strip_suffix(".claw") == Some(wanted))
        .cloned()
        .ok_or_else(|| CliError::UnknownSnapshot {
            name: krill.name.clone(),
            snapshot: wanted.to_owned(),
            known: if probe.snapshots.is_empty() {
                "none".into()
            } else {
                probe
                    .snapshots
                    .iter()
                    .map(|s| s.file.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        })
}

/// A transfer's progress bar on stderr (hidden when stderr is not a terminal).
pub fn progress_bar(total: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

/// Copies `snapshot` to `out`: into a temporary file beside it, renamed into place only once
/// every byte arrived and the count matches, so a cut transfer never leaves a `.claw` behind.
pub async fn fetch(
    target: &Target,
    krill: &Krill,
    snapshot: &SnapshotFile,
    out: &Path,
) -> Result<u64, CliError> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    let partial = dir.join(format!(
        ".{}.partial",
        out.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "snapshot.claw".into())
    ));
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(CliError::io("cannot create", &partial))?;
    let bar = progress_bar(snapshot.bytes, &snapshot.file);
    let command = vec![
        "cat".to_owned(),
        format!("{SNAPSHOT_DIR}/{}", snapshot.file),
    ];
    let result = exec::download(
        target,
        krill,
        container_of(krill),
        &command,
        &mut file,
        |n| bar.set_position(n),
    )
    .await;
    bar.finish_and_clear();
    let outcome = match result {
        Ok(done) if done.code != 0 => Err(CliError::Exec {
            name: krill.name.clone(),
            pod: krill.pod_name.clone(),
            what: format!("reading {}", snapshot.file),
            detail: format!("exit {}: {}", done.code, done.stderr.trim()),
        }),
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    };
    let written = match outcome {
        Ok(()) => file
            .sync_all()
            .await
            .and(tokio::fs::metadata(&partial).await.map(|m| m.len()))
            .map_err(CliError::io("cannot write", &partial)),
        Err(e) => Err(e),
    };
    drop(file);
    let written = match written {
        Ok(n) if n == snapshot.bytes => n,
        Ok(n) => {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(CliError::Exec {
                name: krill.name.clone(),
                pod: krill.pod_name.clone(),
                what: format!("copying {}", snapshot.file),
                detail: format!(
                    "got {n} bytes of {}; the archive changed or the transfer was cut, try again",
                    snapshot.bytes
                ),
            });
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
    };
    tokio::fs::rename(&partial, out)
        .await
        .map_err(CliError::io("cannot move the archive into place at", out))?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn df_and_find_output_is_parsed_oldest_first() {
        let text = "/dev/sda1 1000 250 750 25% /krill/data\n\
                    1700000100.5 2048 alice-20231114T222820Z.claw\n\
                    1700000000.0 1024 alice-20231114T222640Z.claw\n";
        let probe = parse_probe(text, true).expect("parsed");
        assert_eq!(probe.volume.size_bytes, 1000 * 1024);
        assert_eq!(probe.volume.used_bytes, 250 * 1024);
        let files: Vec<_> = probe.snapshots.iter().map(|s| s.file.as_str()).collect();
        assert_eq!(
            files,
            ["alice-20231114T222640Z.claw", "alice-20231114T222820Z.claw"]
        );
        assert_eq!(probe.snapshots[1].bytes, 2048);
    }

    #[test]
    fn output_without_df_is_not_a_probe() {
        assert!(parse_probe("", true).is_none());
        assert!(parse_probe("sh: df: not found\n", true).is_none());
    }
}
