//! SQLite databases in a krill's state: found by their header, copied with SQLite's online backup
//! API (a consistent snapshot while the gateway keeps writing, WAL included), checked with
//! `PRAGMA integrity_check` after a restore.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

const HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Suffixes of the files SQLite keeps next to a database; the backup already contains their data.
pub const SIDE_FILE_SUFFIXES: [&str; 3] = ["-wal", "-shm", "-journal"];

#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
    #[error("copying SQLite database {path}: {source}")]
    Backup {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("SQLite database {path} is corrupt: {details}")]
    Corrupt { path: PathBuf, details: String },
    #[error("checking SQLite database {path}: {source}")]
    Check {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("releasing the process leases in SQLite database {path}: {source}")]
    Leases {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

pub fn is_database(path: &Path) -> bool {
    let mut header = [0u8; 16];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .is_ok()
        && &header == HEADER
}

/// Whether `path` is a `-wal`/`-shm`/`-journal` file of a database next to it.
pub fn is_side_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    SIDE_FILE_SUFFIXES
        .iter()
        .filter_map(|suffix| name.strip_suffix(suffix))
        .any(|db| is_database(&path.with_file_name(db)))
}

/// Copies a live database into `dest` (which must not exist) in one read transaction.
pub fn backup(source: &Path, dest: &Path) -> Result<(), SqliteError> {
    let err = |source_err| SqliteError::Backup {
        path: source.to_owned(),
        source: source_err,
    };
    // Read-write open (no writes happen): a read-only connection cannot recover a WAL whose -shm
    // is missing, which is what a database looks like right after the gateway stopped.
    let src = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err)?;
    src.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(err)?;
    let mut dst = Connection::open(dest).map_err(err)?;
    {
        let backup = rusqlite::backup::Backup::new(&src, &mut dst).map_err(err)?;
        // -1: every page in one step, so the copy is a single consistent read transaction.
        loop {
            match backup.step(-1).map_err(err)? {
                rusqlite::backup::StepResult::Done => break,
                _ => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
    }
    // One file, no -wal beside it: the archive must hold the whole database.
    dst.pragma_update(None, "journal_mode", "DELETE")
        .map_err(err)?;
    Ok(())
}

/// The table where the pinned OpenClaw keeps its process leases (gateway owner, start-up
/// migration): rows naming a host and PID that only mean something while that process lives.
pub const LEASE_TABLE: &str = "state_leases";

/// Deletes every row of [`LEASE_TABLE`] in a restored database that has one, and returns how many.
///
/// A snapshot of a running krill holds its gateway's live leases. OpenClaw only reclaims a lease
/// whose holder it can prove dead on the same host, so a krill restored under another pod name
/// would refuse to start ("Another Gateway owner lease is still active") until the lease expired,
/// minutes later. No process from the archive runs after a restore, so none of its leases hold.
pub fn release_leases(path: &Path) -> Result<usize, SqliteError> {
    let err = |source| SqliteError::Leases {
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open(path).map_err(err)?;
    let has_table: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1)",
            [LEASE_TABLE],
            |row| row.get(0),
        )
        .map_err(err)?;
    if !has_table {
        return Ok(0);
    }
    conn.execute(&format!("DELETE FROM {LEASE_TABLE}"), [])
        .map_err(err)
}

/// `PRAGMA integrity_check`, which must answer exactly `ok`.
pub fn integrity_check(path: &Path) -> Result<(), SqliteError> {
    let check = |source| SqliteError::Check {
        path: path.to_owned(),
        source,
    };
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(check)?;
    let mut stmt = conn.prepare("PRAGMA integrity_check").map_err(check)?;
    let rows: Vec<String> = stmt
        .query_map([], |row| row.get(0))
        .map_err(check)?
        .collect::<Result<_, _>>()
        .map_err(check)?;
    if rows == ["ok"] {
        Ok(())
    } else {
        Err(SqliteError::Corrupt {
            path: path.to_owned(),
            details: rows.join("; "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_leases_empties_the_lease_table_and_leaves_other_tables_and_databases_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("openclaw.sqlite");
        let conn = Connection::open(&state).expect("open");
        conn.execute_batch(
            "CREATE TABLE state_leases(scope, lease_key, owner, payload_json);
             INSERT INTO state_leases VALUES
               ('gateway', 'owner', 'a', '{\"owner\":{\"pid\":8,\"host\":\"krill-0\"}}'),
               ('startup', 'migration', 'a', NULL);
             CREATE TABLE sessions(id); INSERT INTO sessions VALUES ('kept');",
        )
        .expect("write");
        drop(conn);
        assert_eq!(release_leases(&state).expect("release"), 2);
        let conn = Connection::open(&state).expect("open");
        let count = |table: &str| -> i64 {
            conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .expect("count")
        };
        assert_eq!(count("state_leases"), 0);
        assert_eq!(count("sessions"), 1);

        let other = dir.path().join("agent.sqlite");
        Connection::open(&other)
            .expect("open")
            .execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .expect("write");
        assert_eq!(release_leases(&other).expect("no lease table"), 0);
    }

    #[test]
    fn backup_of_a_live_wal_database_is_complete_and_intact() {
        let dir = tempfile::tempdir().expect("tempdir");
        let live = dir.path().join("live.sqlite");
        let conn = Connection::open(&live).expect("open");
        conn.pragma_update(None, "journal_mode", "WAL")
            .expect("wal");
        conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3);")
            .expect("write");
        // The rows sit in the -wal file while `conn` stays open: a file copy would miss them.
        assert!(dir.path().join("live.sqlite-wal").exists());
        assert!(is_side_file(&dir.path().join("live.sqlite-wal")));
        let copy = dir.path().join("copy.sqlite");
        backup(&live, &copy).expect("backup");
        integrity_check(&copy).expect("intact");
        let rows: i64 = Connection::open(&copy)
            .expect("open")
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 3);
        assert!(!dir.path().join("copy.sqlite-wal").exists());
        assert!(is_database(&copy));
    }

    #[test]
    fn a_damaged_database_fails_the_check() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("db.sqlite");
        let conn = Connection::open(&db).expect("open");
        conn.execute_batch("CREATE TABLE t(x TEXT); CREATE INDEX i ON t(x);")
            .expect("schema");
        conn.execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
             INSERT INTO t SELECT 'row ' || i || ' with some padding text' FROM n;",
        )
        .expect("insert");
        drop(conn);
        let mut bytes = std::fs::read(&db).expect("read");
        let len = bytes.len();
        for b in &mut bytes[len / 2..len / 2 + 4096] {
            *b = 0x5a;
        }
        std::fs::write(&db, bytes).expect("write");
        let error = integrity_check(&db).expect_err("corrupt").to_string();
        assert!(error.contains("db.sqlite"), "{error}");
    }
}
