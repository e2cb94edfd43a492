//! The argument parsing of `mount.ftsb` (the binary is `src/main.rs`).

use std::path::PathBuf;

/// What the helper was asked to do.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub workspace: PathBuf,
    pub dir: PathBuf,
    pub store: Option<PathBuf>,
    pub allow_other: bool,
    pub fake: bool,
}

/// Parses mount(8)-style arguments: `WORKSPACE DIR [-o OPTIONS] [-n] [-s] [-v] [-f]`.
pub fn parse(args: &[String]) -> Result<Request, String> {
    let mut positional = Vec::new();
    let mut options = Vec::new();
    let mut fake = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-o" => options.push(it.next().ok_or("-o needs a value")?.clone()),
            "-n" | "-s" | "-v" => {}
            "-f" => fake = true,
            s if s.starts_with("-o") => options.push(s[2..].to_owned()),
            s if s.starts_with('-') => return Err(format!("unknown flag {s}")),
            s => positional.push(PathBuf::from(s)),
        }
    }
    let [workspace, dir] = <[PathBuf; 2]>::try_from(positional)
        .map_err(|_| "usage: mount.ftsb WORKSPACE DIR [-o OPTIONS]")?;
    let mut req = Request {
        workspace,
        dir,
        store: None,
        allow_other: false,
        fake,
    };
    for opt in options
        .iter()
        .flat_map(|o| o.split(','))
        .filter(|o| !o.is_empty())
    {
        match opt.split_once('=') {
            Some(("store", v)) => req.store = Some(PathBuf::from(v)),
            None if opt == "allow_other" => req.allow_other = true,
            None if [
                "rw", "defaults", "auto", "noauto", "user", "nouser", "nofail", "_netdev",
            ]
            .contains(&opt) => {}
            _ if opt.starts_with("x-") || opt.starts_with("comment=") => {}
            _ => return Err(format!("unknown option {opt}")),
        }
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_fstab_style_calls() {
        let r = parse(&args(
            "/ws /mnt -o rw,store=/var/lib/s,allow_other,x-systemd.automount",
        ))
        .expect("parse");
        assert_eq!(
            r,
            Request {
                workspace: "/ws".into(),
                dir: "/mnt".into(),
                store: Some("/var/lib/s".into()),
                allow_other: true,
                fake: false
            }
        );
        assert!(parse(&args("/ws /ws -n -v")).is_ok());
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        assert!(parse(&args("/ws")).expect_err("one path").contains("usage"));
        assert!(
            parse(&args("/ws /mnt -o bogus"))
                .expect_err("option")
                .contains("bogus")
        );
        assert!(
            parse(&args("/ws /mnt -x"))
                .expect_err("flag")
                .contains("-x")
        );
    }
}
