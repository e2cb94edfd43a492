//! `completions SHELL` and `manpages DIR`: both generated from the clap definitions, so they
//! never drift from the real command line.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::CommandFactory;

use super::Cli;
use super::output::{count, outln};

/// `ftsb-fs completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

/// `ftsb-fs manpages`.
#[derive(Debug, clap::Args)]
pub struct ManpagesArgs {
    /// The directory to write `ftsb-fs.1` and one page per command into (created if missing).
    pub dir: PathBuf,
}

/// Prints the completion script for a shell.
pub fn completions(a: CompletionsArgs) -> anyhow::Result<i32> {
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut Cli::command(), "ftsb-fs", &mut script);
    outln!("{}", String::from_utf8_lossy(&script).trim_end())?;
    Ok(0)
}

/// Writes the man pages: `ftsb-fs.1`, and `ftsb-fs-VERB.1` for each verb (nested verbs too).
pub fn manpages(a: ManpagesArgs, json: bool) -> anyhow::Result<i32> {
    std::fs::create_dir_all(&a.dir).with_context(|| format!("create {}", a.dir.display()))?;
    let mut cmd = Cli::command();
    cmd.build();
    let mut written = Vec::new();
    write_page(&cmd, "ftsb-fs", "ftsb-fs", &a.dir, &mut written)?;
    if json {
        super::print_json(&serde_json::json!({ "written": written }))?;
    } else {
        outln!(
            "wrote {} into {}",
            count(written.len() as u64, "man page", "man pages"),
            a.dir.display()
        )?;
    }
    Ok(0)
}

/// Writes `NAME.1` for `cmd` (invoked as `bin`), then its verbs' pages.
fn write_page(
    cmd: &clap::Command,
    name: &str,
    bin: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    let page = cmd.clone().name(name.to_owned()).bin_name(bin.to_owned());
    let mut text = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut text)
        .with_context(|| format!("render the man page of {name}"))?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    written.push(path);
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let verb = sub.get_name();
        write_page(
            sub,
            &format!("{name}-{verb}"),
            &format!("{bin} {verb}"),
            dir,
            written,
        )?;
    }
    Ok(())
}
