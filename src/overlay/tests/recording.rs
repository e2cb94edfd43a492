//! What a call records before it returns, and what only marks a node dirty until a release,
//! `fsync` or seal writes it through (`docs/ARCHITECTURE.md`, under `src/overlay/`): each
//! case changes the view, kills the daemon without any write-through (`Fx::crash`), and
//! checks what the reopened overlay shows.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::harness::*;
use crate::overlay::*;

fn workspace() -> Fx {
    Fx::new(|ws| {
        fs::write(ws.join("f"), b"hello").expect("write f");
        fs::set_permissions(ws.join("f"), fs::Permissions::from_mode(0o644)).expect("chmod f");
    })
}

fn chmod(fx: &mut Fx, path: &str, perm: u32) {
    let ino = fx.ino(path);
    fx.ov()
        .setattr(
            ino,
            SetAttr {
                perm: Some(perm),
                ..SetAttr::default()
            },
        )
        .expect("setattr");
}

/// A namespace change and `setattr` of a file no handle holds are recorded before the call
/// returns: a crash right after keeps them.
#[test]
fn namespace_changes_and_setattr_of_a_closed_file_survive_a_crash() {
    let mut fx = workspace();
    // The first change copies the file up, which records the node whatever else holds; the
    // second is a plain `setattr`.
    chmod(&mut fx, "f", 0o640);
    chmod(&mut fx, "f", 0o600);
    fx.ov()
        .make(
            ROOT,
            b"d",
            NewNode {
                kind: Kind::Dir,
                perm: 0o755,
                uid: 0,
                gid: 0,
                rdev: 0,
                target: None,
            },
        )
        .expect("mkdir");
    fx.crash();
    assert_eq!(
        fx.attr("f").perm & 0o7777,
        0o600,
        "the chmod was not recorded"
    );
    assert!(fx.exists("d"), "the mkdir was not recorded");
}

/// A write and `setattr` of a file a handle holds open only mark the node dirty: after a
/// crash the working file's size is the truth (`Overlay::repair`) and its bytes are there,
/// while the mode set on the open file comes back as last recorded. Released first, the
/// same mode is recorded.
#[test]
fn writes_and_setattr_of_an_open_file_wait_for_the_release() {
    for release_first in [false, true] {
        let mut fx = workspace();
        chmod(&mut fx, "f", 0o600);
        let ino = fx.ino("f");
        fx.ov().open_file(ino, true, false).expect("open f");
        fx.ov().write(ino, 0, b"HELLO world").expect("write");
        chmod(&mut fx, "f", 0o640);
        if release_first {
            fx.ov()
                .release_handle(ino, Handle::CACHED)
                .expect("release");
        }
        fx.crash();
        assert_eq!(fx.read("f"), b"HELLO world", "the written bytes");
        assert_eq!(fx.attr("f").size, 11, "the size, from the working file");
        let want = if release_first { 0o640 } else { 0o600 };
        assert_eq!(
            fx.attr("f").perm & 0o7777,
            want,
            "the mode set on the open file (released first: {release_first})"
        );
    }
}
