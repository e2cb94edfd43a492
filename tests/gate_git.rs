//! git and gh: remote rewrites and deletions, discarded local work.

#[path = "gate_common/mod.rs"]
mod common;
use common::*;

#[test]
fn destructive_git_is_blocked() {
    check(&[
        (Block, r#"git push -f"#),
        (Block, r#"git push --force origin HEAD"#),
        (Block, r#"git push origin +main"#),
        (Block, r#"git push origin --force-with-lease"#),
        (Block, r#"git push -d origin feature"#),
        (Block, r#"git push origin :refs/tags/v1"#),
        (Block, r#"git --git-dir=.git push --force"#),
        (Block, r#"git -C . -c user.name=x push -f origin main"#),
        (Block, r#"git -C ../other reset --hard origin/main"#),
        (Block, r#"git clean -ffdx"#),
        (Block, r#"git -C ~/src/lib checkout -- ."#),
        (Block, r#"git -C /srv/app checkout -f main"#),
        (Block, r#"git -C ../other stash drop stash@{0}"#),
        // Inside the workspace the view's checkpoints undo them like any edit.
        (Allow, r#"git checkout -- ."#),
        (Allow, r#"git stash drop stash@{0}"#),
        (Block, r#"git filter-repo --path secrets --invert-paths"#),
        (Block, r#"git branch -D feature"#),
        (Block, r#"gh repo delete"#),
    ]);
}
