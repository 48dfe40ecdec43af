use std::path::{Path, PathBuf};

use crate::ClusterError;

const TOOLS_HINT: &str = "run the suite through scripts/test/cluster.sh or scripts/dev, or add the \
                          directories printed by scripts/tools/go-tools.sh helm and \
                          scripts/tools/kubernetes.sh to KRILL_TOOLS_PATH";

/// The pinned tool binaries the project's setup installed (`KRILL_TOOLS_PATH`, colon-separated).
/// Deliberately not `PATH`: a test must use the pinned helm, not whatever the machine has.
#[derive(Debug, Clone)]
pub struct Tools {
    dirs: Vec<PathBuf>,
}

impl Tools {
    pub const ENV: &'static str = "KRILL_TOOLS_PATH";

    pub fn from_env() -> Result<Self, ClusterError> {
        let raw = std::env::var_os(Self::ENV).ok_or(ClusterError::MissingEnv {
            var: Self::ENV,
            hint: TOOLS_HINT,
        })?;
        Ok(Self::new(std::env::split_paths(&raw)))
    }

    pub fn new(dirs: impl IntoIterator<Item = PathBuf>) -> Self {
        Self {
            dirs: dirs
                .into_iter()
                .filter(|d| !d.as_os_str().is_empty())
                .collect(),
        }
    }

    /// The first `name` found in the tool dirs.
    pub fn find(&self, name: &str) -> Result<PathBuf, ClusterError> {
        self.dirs
            .iter()
            .map(|dir| dir.join(name))
            .find(|p| is_executable(p))
            .ok_or_else(|| ClusterError::MissingTool {
                tool: name.to_owned(),
                searched: std::env::join_paths(&self.dirs)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                hint: TOOLS_HINT,
            })
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The chart under test ([`krill_test_support::chart_dir`]), checked to be a chart.
pub fn chart_dir() -> Result<PathBuf, ClusterError> {
    let dir = krill_test_support::chart_dir();
    if dir.join("Chart.yaml").is_file() {
        Ok(dir)
    } else {
        Err(ClusterError::MissingChart { path: dir })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tool_error_names_the_tool_and_where_it_looked() {
        let tools = Tools::new([
            PathBuf::from("/nonexistent/a"),
            PathBuf::from("/nonexistent/b"),
        ]);
        let err = tools
            .find("helm")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("`helm`"), "{err}");
        assert!(err.contains("/nonexistent/a:/nonexistent/b"), "{err}");
    }

    #[test]
    fn finds_an_executable_in_a_later_dir() -> Result<(), Box<dyn std::error::Error>> {
        use std::os::unix::fs::PermissionsExt;
        let empty = tempfile::tempdir()?;
        let with_tool = tempfile::tempdir()?;
        let tool = with_tool.path().join("helm");
        std::fs::write(&tool, "#!/bin/sh\n")?;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755))?;
        let tools = Tools::new([empty.path().to_owned(), with_tool.path().to_owned()]);
        assert_eq!(tools.find("helm")?, tool);
        Ok(())
    }
}
