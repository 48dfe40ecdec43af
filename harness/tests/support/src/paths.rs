use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Root of the krill repository (this crate lives at `harness/tests/support`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

/// The chart under test: `KRILL_CHART` if set (a broken copy, to prove a test can fail), else the
/// repository's `charts/krill`.
pub fn chart_dir() -> PathBuf {
    match std::env::var_os("KRILL_CHART") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join("charts/krill"),
    }
}

/// The tool cache, by the rule of scripts/lib/common.sh:
/// `${KRILL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/krill}`. Bash's `:-` treats an empty variable
/// as unset, so an empty `KRILL_CACHE` or `XDG_CACHE_HOME` is skipped here too.
pub fn cache_root() -> PathBuf {
    cache_root_from(|name| std::env::var_os(name))
}

fn cache_root_from(var: impl Fn(&str) -> Option<OsString>) -> PathBuf {
    let set = |name: &str| var(name).filter(|value| !value.is_empty());
    if let Some(dir) = set("KRILL_CACHE") {
        return PathBuf::from(dir);
    }
    let base = match set("XDG_CACHE_HOME") {
        Some(dir) => PathBuf::from(dir),
        // An unset HOME gives "/.cache", as "$HOME/.cache" does in bash.
        None => {
            let mut home = var("HOME").unwrap_or_default();
            home.push("/.cache");
            PathBuf::from(home)
        }
    };
    base.join("krill")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        }
    }

    #[test]
    fn krill_cache_wins_when_set() {
        let vars = [
            ("KRILL_CACHE", "/k"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(cache_root_from(env(&vars)), PathBuf::from("/k"));
    }

    #[test]
    fn empty_krill_cache_counts_as_unset() {
        let vars = [
            ("KRILL_CACHE", ""),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(cache_root_from(env(&vars)), PathBuf::from("/x/krill"));
    }

    #[test]
    fn empty_xdg_cache_home_counts_as_unset() {
        let vars = [("KRILL_CACHE", ""), ("XDG_CACHE_HOME", ""), ("HOME", "/h")];
        assert_eq!(
            cache_root_from(env(&vars)),
            PathBuf::from("/h/.cache/krill")
        );
    }

    #[test]
    fn nothing_set_is_slash_dot_cache_as_in_bash() {
        assert_eq!(cache_root_from(env(&[])), PathBuf::from("/.cache/krill"));
    }

    /// The Rust rule and the shell rule must agree: evaluate scripts/lib/common.sh's own
    /// assignment with bash.
    #[test]
    fn agrees_with_the_shell_rule() -> Result<(), Box<dyn std::error::Error>> {
        let common = std::fs::read_to_string(repo_root().join("scripts/lib/common.sh"))?;
        let rule = common
            .lines()
            .find_map(|line| line.strip_prefix("KRILL_CACHE="))
            .ok_or("scripts/lib/common.sh no longer assigns KRILL_CACHE=...; update cache_root")?;
        let cases: [&[(&str, &str)]; 4] = [
            &[
                ("KRILL_CACHE", "/k"),
                ("XDG_CACHE_HOME", "/x"),
                ("HOME", "/h"),
            ],
            &[
                ("KRILL_CACHE", ""),
                ("XDG_CACHE_HOME", "/x"),
                ("HOME", "/h"),
            ],
            &[("KRILL_CACHE", ""), ("XDG_CACHE_HOME", ""), ("HOME", "/h")],
            &[("HOME", "/h")],
        ];
        for vars in cases {
            let out = std::process::Command::new("bash")
                .arg("-c")
                .arg(format!("printf %s {rule}"))
                .env_clear()
                .envs(vars.iter().copied())
                .output()?;
            assert!(out.status.success(), "bash failed for {vars:?}");
            let shell = PathBuf::from(String::from_utf8(out.stdout)?);
            assert_eq!(cache_root_from(env(vars)), shell, "{vars:?}");
        }
        Ok(())
    }

    #[test]
    fn repo_root_holds_the_pins() {
        assert!(repo_root().join("scripts/versions.env").is_file());
    }
}
