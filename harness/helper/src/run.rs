//! `krill run` and `krill prepare`: everything between the container start and the gateway.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, Result};

use crate::config::{self, RenderRequest, Rendered, Source};
use crate::context;
use crate::gateway::{GatewayLock, Launch};
use crate::layout;
use crate::paths::{KrillName, Paths, Settings};

/// Everything `krill run` decides from its environment, before touching the disk.
pub struct Plan {
    pub name: KrillName,
    pub paths: Paths,
    pub settings: Settings,
    pub rendered: Rendered,
    pub launch: Launch,
}

impl Plan {
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<Self> {
        let name = KrillName::from_env(env)?;
        let paths = Paths::from_env(env);
        let settings = Settings::from_env(env)?;
        let template_path = paths.template();
        let template = match fs::read_to_string(&template_path) {
            Ok(text) => Source::new(template_path.display().to_string(), text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Source::new("built-in template", config::DEFAULT_TEMPLATE)
            }
            Err(e) => {
                return Err(e).with_context(|| format!("reading {}", template_path.display()));
            }
        };
        let overrides_path = paths.overrides(&name);
        let overrides = match fs::read_to_string(&overrides_path) {
            Ok(text) => Some(Source::new(overrides_path.display().to_string(), text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(e).with_context(|| format!("reading {}", overrides_path.display()));
            }
        };
        let rendered = config::render(&RenderRequest {
            template,
            overrides,
            env,
            workspace: &paths.workspace(),
            port: settings.port,
        })?;
        let launch = Launch::new(&paths, &settings);
        Ok(Plan {
            name,
            paths,
            settings,
            rendered,
            launch,
        })
    }

    /// What `--dry-run` prints: the config as it would be written, then the command.
    pub fn describe(&self) -> String {
        format!(
            "# {} (secrets stay ${{VAR}} references; OpenClaw resolves them at start)\n{}# command\n{}\n",
            self.paths.rendered_config().display(),
            self.rendered.to_json(),
            self.launch.display()
        )
    }

    /// Lays out the volume, restores context on first start, writes the config. Returns the lock
    /// the gateway must inherit.
    pub fn prepare(&self, force_restore: bool) -> Result<GatewayLock> {
        layout::prepare(&self.paths, self.settings.uid, self.settings.gid)?;
        let lock = GatewayLock::acquire(&self.paths)?;
        context::recover(&self.paths)?;
        if let Some(report) = context::restore_on_first_start(&self.paths, force_restore)? {
            eprintln!("krill: {report}");
        }
        write_atomically(
            &self.paths.rendered_config(),
            self.rendered.to_json().as_bytes(),
        )?;
        // As root (an init step), what the restore unpacked must end up owned by the gateway user.
        layout::prepare(&self.paths, self.settings.uid, self.settings.gid)?;
        Ok(lock)
    }
}

/// Writes `path` through a temporary file and a rename, so a reader never sees half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("path has no parent directory")?;
    let mut file = tempfile::Builder::new()
        .prefix(".krill-tmp")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    file.as_file()
        .sync_all()
        .with_context(|| format!("syncing {}", path.display()))?;
    file.persist(path)
        .with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}
