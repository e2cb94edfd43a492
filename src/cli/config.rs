//! Defaults from configuration files, and `ftsb-fs config`, which shows each effective value
//! and where it comes from.
//!
//! Two files, both optional, in TOML: the user's `$XDG_CONFIG_HOME/ftsb-fs/config.toml`
//! (`~/.config/ftsb-fs/config.toml`), and the workspace's `.ftsb-fs.toml` at its root. A
//! command-line flag beats the workspace file, which beats the user's file, which beats the
//! built-in default. Relative paths in a file are relative to the file's directory; `~/` is
//! the home directory.
//!
//! **Invariant:** what runs inside the view cannot change the configuration of its own
//! workspace. `mount` reads the workspace file from the real directory before the view covers
//! it and keeps a copy in the store (outside the view); while the workspace is mounted, that
//! copy is the workspace file, and a policy file inside the workspace that it names is
//! pinned the same way. Changes made through the view apply from the next mount.
//!
//! This module only resolves values; the commands decide what they mean (`net` and `linger`
//! are kept as the strings the user wrote, for `exec` to parse with its own grammar).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::json;

use super::output::{outln, paint, style};
use super::report::{Code, coded};

/// The workspace file's name, at the workspace root.
pub const WORKSPACE_FILE: &str = ".ftsb-fs.toml";
/// The copy of the workspace file that `mount` keeps in the store.
const PINNED_FILE: &str = "workspace-config.toml";
/// The copy of a policy file inside the workspace that the workspace file names.
const PINNED_POLICY: &str = "workspace-policy.toml";

/// One configuration file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    /// The directory that holds one store per workspace.
    store_root: Option<PathBuf>,
    /// The policy file `exec` and `gate check` use when `--policy` is not given.
    policy: Option<PathBuf>,
    /// The default of `exec --net`.
    net: Option<String>,
    /// The default of `exec --linger`.
    linger: Option<String>,
}

/// Where an effective value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Built in.
    Default,
    /// A configuration file (the user's, or the workspace's).
    File(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A value and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    pub value: T,
    pub source: Source,
}

/// The effective configuration of one workspace.
#[derive(Debug, Clone)]
pub struct Config {
    /// The directory under which `mount` puts the workspace's store.
    pub store_root: Setting<PathBuf>,
    /// The policy file for `exec` and `gate check` (`None`: the built-in policy only).
    pub policy: Setting<Option<PathBuf>>,
    /// The default of `exec --net` as written (`None`: exec's own default).
    pub net: Setting<Option<String>>,
    /// The default of `exec --linger` as written (`None`: exec's own default).
    pub linger: Setting<Option<String>>,
    /// The files looked at, in increasing precedence, and whether each exists.
    pub files: Vec<(PathBuf, bool)>,
}

/// The user's configuration file.
pub fn user_file() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => home()?.join(".config"),
    };
    Some(base.join("ftsb-fs").join("config.toml"))
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The built-in store root: `$XDG_STATE_HOME/ftsb-fs` or `~/.local/state/ftsb-fs`.
fn default_store_root() -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(s) => PathBuf::from(s),
        None => home()
            .ok_or_else(|| {
                coded(
                    Code::Config,
                    "neither XDG_STATE_HOME nor HOME is set; pass --store",
                )
            })?
            .join(".local/state"),
    };
    Ok(base.join("ftsb-fs"))
}

impl Config {
    /// The configuration of `workspace`. `store` is the store of its running mount, if any:
    /// the workspace file is then the copy `mount` pinned there, not the one in the view.
    pub fn load(workspace: &Path, store: Option<&Path>) -> anyhow::Result<Config> {
        let mut cfg = Config {
            store_root: Setting {
                value: default_store_root()?,
                source: Source::Default,
            },
            policy: unset(),
            net: unset(),
            linger: unset(),
            files: Vec::new(),
        };
        let workspace_file = match store {
            Some(s) => s.join(PINNED_FILE),
            None => workspace.join(WORKSPACE_FILE),
        };
        let files = user_file()
            .map(|u| (u, false))
            .into_iter()
            .chain([(workspace_file, true)]);
        for (path, of_workspace) in files {
            let Some(text) = read_optional(&path)? else {
                cfg.files.push((path, false));
                continue;
            };
            // A pinned copy speaks for the workspace file it was copied from.
            let pinned = store.filter(|_| of_workspace);
            let (shown, dir) = if pinned.is_some() {
                (workspace.join(WORKSPACE_FILE), workspace.to_owned())
            } else {
                let dir = path.parent().map(Path::to_owned).unwrap_or_default();
                (path.clone(), dir)
            };
            let file = parse(&text, &shown)?;
            let from = || Source::File(shown.clone());
            if let Some(p) = file.store_root {
                cfg.store_root = Setting {
                    value: resolve(&dir, &p),
                    source: from(),
                };
            }
            if let Some(p) = file.policy {
                let mut policy = resolve(&dir, &p);
                if let Some(store) = pinned.filter(|_| policy.starts_with(workspace)) {
                    policy = store.join(PINNED_POLICY);
                }
                cfg.policy = Setting {
                    value: Some(policy),
                    source: from(),
                };
            }
            if let Some(n) = file.net {
                cfg.net = Setting {
                    value: Some(n),
                    source: from(),
                };
            }
            if let Some(l) = file.linger {
                cfg.linger = Setting {
                    value: Some(l),
                    source: from(),
                };
            }
            cfg.files.push((shown, true));
        }
        Ok(cfg)
    }

    /// The policy to use: `flag` if given, else the configured one.
    pub fn policy_or(&self, flag: Option<&Path>) -> Option<PathBuf> {
        flag.map(Path::to_owned)
            .or_else(|| self.policy.value.clone())
    }
}

fn unset<T>() -> Setting<Option<T>> {
    Setting {
        value: None,
        source: Source::Default,
    }
}

/// The text of `path`; `None` if it does not exist, or if it lies under a view whose daemon
/// died (ENOTCONN), which reads as absent until `mount` detaches the stale view.
fn read_optional(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Ok(None),
        Err(e) => Err(coded(
            Code::Config,
            format!("cannot read configuration {}: {e}", path.display()),
        )),
    }
}

fn parse(text: &str, path: &Path) -> anyhow::Result<File> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| {
            text[..s.start.min(text.len())].matches('\n').count() + 1
        });
        coded(
            Code::Config,
            format!("{}:{line}: {}", path.display(), e.message().trim()),
        )
    })
}

/// `p` as written in a file in `dir`: `~/` is the home, relative paths are below `dir`.
fn resolve(dir: &Path, p: &Path) -> PathBuf {
    if let (Ok(rest), Some(home)) = (p.strip_prefix("~"), home()) {
        return home.join(rest);
    }
    dir.join(p)
}

/// The copies `mount` pinned in `store` (the workspace file and the policy it names), which
/// `exec` reads while the workspace is mounted; missing ones too.
pub fn pinned_files(store: &Path) -> [PathBuf; 2] {
    [store.join(PINNED_FILE), store.join(PINNED_POLICY)]
}

/// The files inside `workspace` that set its configuration while it is mounted from
/// `store`, relative to it: the workspace file, and the policy file the pinned copy names
/// when that lies in the workspace. A change to them takes effect at the next mount.
pub fn workspace_files(workspace: &Path, store: &Path) -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from(WORKSPACE_FILE)];
    let pinned = std::fs::read_to_string(store.join(PINNED_FILE)).ok();
    let policy = pinned
        .and_then(|text| toml::from_str::<File>(&text).ok())
        .and_then(|f| f.policy)
        .map(|p| resolve(workspace, &p));
    if let Some(rel) = policy
        .as_deref()
        .and_then(|p| p.strip_prefix(workspace).ok())
    {
        out.push(rel.to_path_buf());
    }
    out
}

/// Keeps the workspace file as it is now (before the view covers it) in `store`, or removes
/// an old copy if the workspace has none, so a mounted workspace's configuration cannot be
/// changed from inside its view.
pub fn pin(workspace: &Path, store: &Path) -> anyhow::Result<()> {
    let pinned = store.join(PINNED_FILE);
    // A view left behind by a killed daemon hides the real file: keep the copy of the mount
    // that view belonged to.
    if std::fs::metadata(workspace).is_err_and(|e| e.raw_os_error() == Some(libc::ENOTCONN)) {
        return Ok(());
    }
    match read_optional(&workspace.join(WORKSPACE_FILE))? {
        Some(text) => {
            // Refuse a broken file now rather than at every later command.
            let file = parse(&text, &workspace.join(WORKSPACE_FILE))?;
            if let Some(policy) = file
                .policy
                .map(|p| resolve(workspace, &p))
                .filter(|p| p.starts_with(workspace))
            {
                let text = std::fs::read(&policy).map_err(|e| {
                    coded(
                        Code::Config,
                        format!(
                            "{WORKSPACE_FILE} names the policy {}: {e}",
                            policy.display()
                        ),
                    )
                })?;
                keep(&store.join(PINNED_POLICY), &text)?;
            }
            keep(&pinned, text.as_bytes())
        }
        None => match std::fs::remove_file(&pinned) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(coded(
                Code::Config,
                format!("cannot remove {}: {e}", pinned.display()),
            )),
            _ => Ok(()),
        },
    }
}

fn keep(path: &Path, text: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, text).map_err(|e| {
        coded(
            Code::Config,
            format!("cannot keep {} in the store: {e}", path.display()),
        )
    })
}

/// The configuration of `workspace` (or of the mount holding the current directory), read
/// the way a mounted workspace must be: from the copy its mount pinned, if it is mounted.
pub fn for_workspace(workspace: Option<&Path>) -> anyhow::Result<(PathBuf, Config)> {
    let ws = match super::resolve_workspace(workspace) {
        Ok(ws) => ws,
        Err(_) if workspace.is_none() => super::absolute(Path::new("."))?,
        Err(e) => return Err(e),
    };
    let store = crate::control::Client::connect(&ws)
        .ok()
        .and_then(|mut c| {
            super::call_on::<crate::control::reply::Info>(&mut c, &crate::control::Request::Info)
                .ok()
        })
        .map(|i| i.store);
    let cfg = Config::load(&ws, store.as_deref())?;
    Ok((ws, cfg))
}

/// The configured policy for `gate check` in `workspace`.
pub fn configured_policy(workspace: Option<&Path>) -> anyhow::Result<Option<PathBuf>> {
    Ok(for_workspace(workspace)?.1.policy.value)
}

/// `ftsb-fs config`.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// The workspace (default: the mount holding the current directory, else the current
    /// directory).
    pub workspace: Option<PathBuf>,
}

/// Shows the effective configuration and where each value comes from.
pub fn show(a: ConfigArgs, json: bool) -> anyhow::Result<i32> {
    let (ws, cfg) = for_workspace(a.workspace.as_deref())?;
    let shown = |v: Option<String>| v.map_or(serde_json::Value::Null, Into::into);
    let rows = [
        (
            "store_root",
            Some(cfg.store_root.value.display().to_string()),
            &cfg.store_root.source,
            "$XDG_STATE_HOME/ftsb-fs",
        ),
        (
            "policy",
            cfg.policy.value.as_ref().map(|p| p.display().to_string()),
            &cfg.policy.source,
            "the built-in policy",
        ),
        ("net", cfg.net.value.clone(), &cfg.net.source, "exec's own"),
        (
            "linger",
            cfg.linger.value.clone(),
            &cfg.linger.source,
            "exec's own",
        ),
    ];
    if json {
        let mut doc = serde_json::Map::new();
        for (key, value, source, _) in &rows {
            doc.insert(
                (*key).into(),
                json!({ "value": shown(value.clone()), "source": source.to_string() }),
            );
        }
        let files: Vec<_> = cfg
            .files
            .iter()
            .map(|(p, exists)| json!({ "path": p, "exists": exists }))
            .collect();
        doc.insert("workspace".into(), json!(ws));
        doc.insert("files".into(), files.into());
        super::print_json(&doc)?;
        return Ok(0);
    }
    for (key, value, source, default) in rows {
        let value = value.unwrap_or_else(|| format!("({default})"));
        outln!(
            "{} {value}  {}",
            paint(style::LABEL, &format!("{key:<10}")),
            paint(style::HINT, &format!("# {source}"))
        )?;
    }
    for (path, exists) in &cfg.files {
        let state = if *exists { "read" } else { "absent" };
        outln!(
            "{} {} ({state})",
            paint(style::LABEL, "file      "),
            path.display()
        )?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_against_their_file() {
        assert_eq!(
            resolve(Path::new("/etc/x"), Path::new("p.toml")),
            Path::new("/etc/x/p.toml")
        );
        assert_eq!(
            resolve(Path::new("/etc/x"), Path::new("/abs/p.toml")),
            Path::new("/abs/p.toml")
        );
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let e =
            parse("net = \"deny\"\nbogus = 1\n", Path::new("/c.toml")).expect_err("an unknown key");
        let msg = e.to_string();
        assert!(msg.starts_with("/c.toml:2: "), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        assert_eq!(super::super::report::code_of(&e), Code::Config);
    }
}
