//! What a snapshot leaves out, and why. Every workspace file is the agent's work and is kept
//! whatever its name (`tokenizer.json`, `Cargo.lock`, a project's `secrets/`); in the state dir
//! only the files OpenClaw documents as holding credentials (pinned version's layout, see
//! docs/helper.md) and its scratch (temp files, caches, lock files) stay out. Nothing is left out
//! silently: the caller lists every exclusion in the log and in the archive's manifest.

use std::path::Path;

use globset::{Glob, GlobBuilder, GlobMatcher};

/// Why a path stays out of a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// OpenClaw keeps credentials there: restoring it elsewhere would hand them on.
    Credential,
    /// Meaningful only to the process that wrote it (temp files, caches, lock files).
    Scratch,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Credential => "credential",
            Reason::Scratch => "scratch",
        }
    }
}

/// The two trees a snapshot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    Workspace,
    State,
}

impl Tree {
    /// The tree's directory name inside a snapshot.
    pub fn as_str(self) -> &'static str {
        match self {
            Tree::Workspace => "workspace",
            Tree::State => "state",
        }
    }
}

/// One path a snapshot left out, relative to the snapshot's root (`state/credentials/...`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Excluded {
    pub path: String,
    pub reason: Reason,
}

#[derive(Clone, Copy)]
enum Rule {
    Keep,
    Leave(Reason),
}

/// State-dir rules, first match wins; paths relative to the state dir. From the credential map of
/// the pinned OpenClaw (`docs/gateway/security/secrets-and-storage.md` in the package).
const STATE_RULES: &[(&str, Rule)] = &[
    // Pairing allowlists live among the channel credentials but are who may talk to the agent,
    // not a secret: a moved krill keeps its paired senders.
    ("credentials/*-allowFrom.json", Rule::Keep),
    ("credentials/**", Rule::Leave(Reason::Credential)),
    (".env", Rule::Leave(Reason::Credential)),
    ("secrets.json", Rule::Leave(Reason::Credential)),
    ("openclaw.json", Rule::Leave(Reason::Credential)),
    ("openclaw.json.*", Rule::Leave(Reason::Credential)),
    ("openclaw.json5", Rule::Leave(Reason::Credential)),
    (
        "agents/*/agent/auth-profiles.json",
        Rule::Leave(Reason::Credential),
    ),
    ("agents/*/agent/auth.json", Rule::Leave(Reason::Credential)),
    (
        "agents/*/agent/codex-home/**",
        Rule::Leave(Reason::Credential),
    ),
    ("tmp/**", Rule::Leave(Reason::Scratch)),
    ("cache/**", Rule::Leave(Reason::Scratch)),
    ("locks/**", Rule::Leave(Reason::Scratch)),
    ("**/*.lock", Rule::Leave(Reason::Scratch)),
    ("**/*-lock.sqlite", Rule::Leave(Reason::Scratch)),
    ("**/*.lock.sqlite", Rule::Leave(Reason::Scratch)),
];

/// The helper's own probe file (layout.rs), wherever a crash left it.
const HELPER_SCRATCH: &str = "**/.krill-write-probe*";

fn glob(pattern: &str) -> GlobMatcher {
    // `*` stays within one path component; `**` crosses them.
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map(|g: Glob| g.compile_matcher())
        .unwrap_or_else(|e| panic!("exclusion pattern {pattern:?} is invalid: {e}"))
}

/// Decides for each path under a snapshot's trees whether it stays out.
pub struct Exclusions {
    state: Vec<(GlobMatcher, Rule)>,
    helper_scratch: GlobMatcher,
}

impl Default for Exclusions {
    fn default() -> Self {
        Exclusions {
            state: STATE_RULES.iter().map(|(p, r)| (glob(p), *r)).collect(),
            helper_scratch: glob(HELPER_SCRATCH),
        }
    }
}

impl Exclusions {
    /// Why the file at `relative` (within `tree`) stays out, or `None` to keep it.
    pub fn file(&self, tree: Tree, relative: &Path) -> Option<Reason> {
        if self.helper_scratch.is_match(relative) {
            return Some(Reason::Scratch);
        }
        match tree {
            Tree::Workspace => None,
            Tree::State => self
                .state
                .iter()
                .find(|(matcher, _)| matcher.is_match(relative))
                .and_then(|(_, rule)| match rule {
                    Rule::Keep => None,
                    Rule::Leave(reason) => Some(*reason),
                }),
        }
    }

    /// Why the whole directory at `relative` stays out, or `None` when anything in it may be
    /// kept (its files are then decided one by one).
    pub fn directory(&self, tree: Tree, relative: &Path) -> Option<Reason> {
        if tree == Tree::Workspace {
            return None;
        }
        // Whole only where its contents are left out by a `dir/**` rule and no keep rule can
        // reach inside it; otherwise its files are decided one by one.
        let reason = self.file(tree, &relative.join("x"))?;
        let keep_reaches_inside = STATE_RULES
            .iter()
            .any(|(pattern, rule)| matches!(rule, Rule::Keep) && reaches_inside(pattern, relative));
        (!keep_reaches_inside).then_some(reason)
    }
}

/// Whether `pattern` could match some path strictly inside the directory `dir`.
fn reaches_inside(pattern: &str, dir: &Path) -> bool {
    let parts: Vec<&str> = pattern.split('/').collect();
    let dir: Vec<String> = dir
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    for (i, component) in dir.iter().enumerate() {
        match parts.get(i) {
            Some(&"**") => return true,
            Some(part) if i + 1 < parts.len() && glob(part).is_match(component) => {}
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(Tree::Workspace, "tokenizer.json", None)]
    #[case(Tree::Workspace, "Cargo.lock", None)]
    #[case(Tree::Workspace, "app/poetry.lock", None)]
    #[case(Tree::Workspace, "secrets/README.md", None)]
    #[case(Tree::Workspace, "credentials/schema.json", None)]
    #[case(Tree::Workspace, ".env", None)]
    #[case(Tree::Workspace, "media/photo.jpg", None)]
    #[case(Tree::Workspace, "deploy/id_ed25519.pub", None)]
    #[case(Tree::Workspace, "openclaw.json", None)]
    #[case(Tree::Workspace, "notes/.krill-write-probeX1", Some(Reason::Scratch))]
    #[case(Tree::State, "credentials/oauth.json", Some(Reason::Credential))]
    #[case(
        Tree::State,
        "credentials/whatsapp/default/creds.json",
        Some(Reason::Credential)
    )]
    #[case(Tree::State, "credentials/telegram-allowFrom.json", None)]
    #[case(Tree::State, "credentials/telegram-work-allowFrom.json", None)]
    #[case(Tree::State, ".env", Some(Reason::Credential))]
    #[case(Tree::State, "secrets.json", Some(Reason::Credential))]
    #[case(Tree::State, "openclaw.json", Some(Reason::Credential))]
    #[case(Tree::State, "openclaw.json.bak", Some(Reason::Credential))]
    #[case(
        Tree::State,
        "agents/main/agent/auth-profiles.json",
        Some(Reason::Credential)
    )]
    #[case(Tree::State, "agents/main/agent/auth.json", Some(Reason::Credential))]
    #[case(
        Tree::State,
        "agents/main/agent/codex-home/auth.json",
        Some(Reason::Credential)
    )]
    #[case(Tree::State, "agents/main/agent/openclaw-agent.sqlite", None)]
    #[case(Tree::State, "state/openclaw.sqlite", None)]
    #[case(Tree::State, "media/inbound/photo.jpg", None)]
    #[case(Tree::State, "devices/paired.json", None)]
    #[case(Tree::State, "identity/device.json", None)]
    #[case(Tree::State, "logs/gateway.log", None)]
    #[case(Tree::State, "cron/jobs.json", None)]
    #[case(Tree::State, "tmp/upload-1", Some(Reason::Scratch))]
    #[case(Tree::State, "cache/models.json", Some(Reason::Scratch))]
    #[case(Tree::State, "gateway.lock", Some(Reason::Scratch))]
    #[case(
        Tree::State,
        "agents/main/agent/openclaw-agent.sqlite.reindex-lock.sqlite",
        Some(Reason::Scratch)
    )]
    // A state file that merely sounds secret is kept: only documented paths are left out.
    #[case(Tree::State, "agents/main/agent/token-usage.json", None)]
    fn files(#[case] tree: Tree, #[case] path: &str, #[case] expected: Option<Reason>) {
        assert_eq!(
            Exclusions::default().file(tree, Path::new(path)),
            expected,
            "{}/{path}",
            tree.as_str()
        );
    }

    #[rstest]
    #[case(Tree::State, "tmp", Some(Reason::Scratch))]
    #[case(Tree::State, "cache", Some(Reason::Scratch))]
    #[case(Tree::State, "agents/main/agent/codex-home", Some(Reason::Credential))]
    // credentials/ holds kept allowlists: walked file by file.
    #[case(Tree::State, "credentials", None)]
    #[case(Tree::State, "credentials/whatsapp", Some(Reason::Credential))]
    #[case(Tree::State, "media", None)]
    #[case(Tree::State, "agents", None)]
    #[case(Tree::Workspace, "tmp", None)]
    #[case(Tree::Workspace, "credentials", None)]
    fn directories(#[case] tree: Tree, #[case] path: &str, #[case] expected: Option<Reason>) {
        assert_eq!(
            Exclusions::default().directory(tree, Path::new(path)),
            expected,
            "{}/{path}/",
            tree.as_str()
        );
    }

    #[test]
    fn every_pattern_compiles() {
        for (pattern, _) in STATE_RULES {
            glob(pattern);
        }
        glob(HELPER_SCRATCH);
    }
}
