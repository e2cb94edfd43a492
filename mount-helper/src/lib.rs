//! The argument parsing of `mount.ftsb` (the binary is `src/main.rs`).

use std::path::PathBuf;

/// What the helper was asked to do.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub workspace: PathBuf,
    pub dir: PathBuf,
    pub store: Option<PathBuf>,
    pub allow_other: bool,
    /// `noexec`: mount the view `--noexec`.
    pub noexec: bool,
    /// `ro`: mount the view `--read-only`.
    pub read_only: bool,
    /// `uring`: take kernel requests through FUSE-over-io_uring (`--uring`).
    pub uring: bool,
    pub fake: bool,
}

/// Options that only mount(8), fstab or systemd act on: accepted, nothing to do here.
const FOR_MOUNT8: [&str; 10] = [
    "auto", "noauto", "user", "nouser", "users", "owner", "group", "_netdev", "nofail", "sync",
];

/// Options the view always has: accepted, already in effect.
const ALWAYS: [&str; 2] = ["nosuid", "nodev"];

/// Parses mount(8)-style arguments: `WORKSPACE DIR [-o OPTIONS] [-t TYPE] [-n] [-s] [-v] [-f]`.
///
/// Options apply left to right, so a later `rw` undoes an earlier `ro`, as with mount(8).
/// `suid` and `dev` are refused: the view is always `nosuid,nodev`.
pub fn parse(args: &[String]) -> Result<Request, String> {
    let mut positional = Vec::new();
    let mut options = Vec::new();
    let mut fake = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-o" => options.push(it.next().ok_or("-o needs a value")?.clone()),
            "-t" => {
                it.next().ok_or("-t needs a value")?;
            }
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
        noexec: false,
        read_only: false,
        uring: false,
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
            None if opt == "ro" => req.read_only = true,
            None if opt == "rw" => req.read_only = false,
            None if opt == "noexec" => req.noexec = true,
            None if opt == "exec" => req.noexec = false,
            None if opt == "uring" => req.uring = true,
            None if opt == "defaults" => {
                req.read_only = false;
                req.noexec = false;
            }
            None if opt == "suid" || opt == "dev" => {
                return Err(format!(
                    "option {opt} is not supported: the view is always mounted nosuid,nodev"
                ));
            }
            None if ALWAYS.contains(&opt) || FOR_MOUNT8.contains(&opt) => {}
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
                noexec: false,
                read_only: false,
                uring: false,
                fake: false
            }
        );
        assert!(parse(&args("/ws /ws -n -v")).is_ok());
    }

    #[test]
    fn maps_the_standard_options_left_to_right() {
        let r = parse(&args(
            "/ws /mnt -t ftsb -o defaults,nosuid,nodev,noexec,ro,auto,noauto,user,nouser,_netdev",
        ))
        .expect("parse");
        assert!(r.noexec && r.read_only, "{r:?}");
        let r = parse(&args("/ws /mnt -o ro,noexec -o rw,exec")).expect("parse");
        assert!(!r.noexec && !r.read_only, "{r:?}");
        let r = parse(&args("/ws /mnt -o ro,noexec,defaults")).expect("parse");
        assert!(!r.noexec && !r.read_only, "{r:?}");
        let r = parse(&args("/ws /mnt -o uring,defaults")).expect("parse");
        assert!(r.uring, "{r:?}");
        assert!(!parse(&args("/ws /mnt -o ro")).expect("parse").uring);
        for opt in ["suid", "dev"] {
            let e = parse(&args(&format!("/ws /mnt -o {opt}"))).expect_err(opt);
            assert!(e.contains("nosuid,nodev"), "{e}");
        }
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
