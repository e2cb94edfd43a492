//! Options and environment variables whose values are commands, configuration or writes.

use super::{Options, Value};

/// git configuration keys whose value is a program or shell line git runs later.
pub(crate) const GIT_COMMAND_KEYS: &[&str] = &[
    "core.sshcommand",
    "core.pager",
    "core.editor",
    "core.fsmonitor",
    "core.gitproxy",
    "core.askpass",
    "credential.helper",
    "credential.*.helper",
    "sequence.editor",
    "diff.external",
    "diff.*.textconv",
    "diff.*.command",
    "merge.*.driver",
    "filter.*.clean",
    "filter.*.smudge",
    "filter.*.process",
    "gpg.program",
    "gpg.*.program",
    "pager.*",
    "alias.*",
    "remote.*.uploadpack",
    "remote.*.receivepack",
    "uploadpack.packobjectshook",
    "mergetool.*.cmd",
    "difftool.*.cmd",
    "browser.*.cmd",
    "web.browser",
    "ssh.variant",
    "sendemail.sendmailcmd",
    "sendemail.tocmd",
    "sendemail.cccmd",
    "sendemail.smtpserver",
    "submodule.*.update",
    "instaweb.httpd",
    "instaweb.browser",
    "man.*.cmd",
    "tar.*.command",
    "core.alternaterefscommand",
    "interactive.difffilter",
];

/// git configuration keys that make git read configuration or hooks from elsewhere.
pub(crate) const GIT_INCLUDE_KEYS: &[&str] = &[
    "include.path",
    "includeif.*.path",
    "core.hookspath",
    "init.templatedir",
    "url.*.insteadof",
    "url.*.pushinsteadof",
];

/// Tools that make a directory git's hooks directory (`core.hooksPath`) themselves, so a
/// file written there runs on later git commands: (tool and subcommand, the directory when
/// no operand after them names one). A row without a subcommand takes its first operand.
pub(crate) const HOOKS_SETTERS: &[(&str, &str)] = &[
    ("husky install", ".husky"),
    ("husky init", ".husky"),
    ("husky", ".husky"),
];

/// A package install that can land outside the workspace, in the user's or the system's
/// tools: from a registry other than the tool's default it is asked about.
#[derive(Debug)]
pub(crate) struct Install {
    /// The program.
    pub tool: &'static str,
    /// Subcommands that install (any one, its words in the arguments: `"tool install"`).
    pub subs: &'static [&'static str],
    /// Flags that make it global; empty when it always is (`go install`, `cargo install`).
    pub global: &'static [&'static str],
    /// Options naming its own destination: one inside the workspace makes it local.
    pub places: &'static [&'static str],
    /// Options naming where packages come from (a glob for scoped ones: `--@*:registry`).
    pub sources: &'static [&'static str],
}

const fn install(
    tool: &'static str,
    subs: &'static [&'static str],
    global: &'static [&'static str],
    places: &'static [&'static str],
    sources: &'static [&'static str],
) -> Install {
    Install {
        tool,
        subs,
        global,
        places,
        sources,
    }
}

const NPM_INSTALL: &[&str] = &["install", "i", "add", "in", "isntall"];
const NPM_GLOBAL: &[&str] = &["-g", "--global", "--location=global"];
const NPM_SOURCES: &[&str] = &["--registry", "--@*:registry"];
const PIP_SOURCES: &[&str] = &[
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
];
const UV_SOURCES: &[&str] = &[
    "--index-url",
    "--extra-index-url",
    "--index",
    "--default-index",
];

/// Installs of tools into the home or the system ([`Install`]).
pub(crate) const INSTALLS: &[Install] = &[
    install("npm", NPM_INSTALL, NPM_GLOBAL, &["--prefix"], NPM_SOURCES),
    install(
        "pnpm",
        &["add", "install", "i"],
        NPM_GLOBAL,
        &[],
        NPM_SOURCES,
    ),
    install(
        "bun",
        &["add", "install", "i"],
        NPM_GLOBAL,
        &[],
        NPM_SOURCES,
    ),
    install("yarn", &["global add"], &[], &[], NPM_SOURCES),
    install(
        "pip",
        &["install"],
        &["--user", "--break-system-packages"],
        &["-t", "--target", "--prefix", "--root"],
        PIP_SOURCES,
    ),
    install("pipx", &["install", "inject"], &[], &[], PIP_SOURCES),
    install("uv", &["tool install"], &[], &[], UV_SOURCES),
    install(
        "uv",
        &["pip install"],
        &["--system", "--break-system-packages"],
        &["--target", "--prefix"],
        UV_SOURCES,
    ),
    install("go", &["install"], &[], &[], &[]),
    install(
        "cargo",
        &["install"],
        &[],
        &["--root"],
        &["--git", "--registry", "--index"],
    ),
    install(
        "gem",
        &["install", "i"],
        &[],
        &["--install-dir", "-i"],
        &["--source", "-s"],
    ),
    install("deno", &["install"], &["-g", "--global"], &["--root"], &[]),
    install("composer", &["global require"], &[], &[], &[]),
];

/// Options naming a file of more install arguments, read when the line wrote it (a
/// requirements file's `--index-url` line counts as the option).
pub(crate) const ARGUMENT_FILES: &[(&str, &[&str])] = &[
    ("pip", &["-r", "--requirement", "-c", "--constraint"]),
    ("uv", &["-r", "--requirement", "-c", "--constraint"]),
];

/// Variables naming where a tool's packages come from, and the tool they steer.
pub(crate) const REGISTRY_VARS: &[(&str, &str)] = &[
    ("NPM_CONFIG_REGISTRY", "npm"),
    ("npm_config_registry", "npm"),
    ("PIP_INDEX_URL", "pip"),
    ("PIP_EXTRA_INDEX_URL", "pip"),
    ("PIP_FIND_LINKS", "pip"),
    ("UV_INDEX_URL", "uv"),
    ("UV_EXTRA_INDEX_URL", "uv"),
    ("UV_DEFAULT_INDEX", "uv"),
    ("GOPROXY", "go"),
    ("GOINSECURE", "go"),
    ("GONOSUMDB", "go"),
];

/// Hosts of the tools' default registries, and the public forges that `go install` reaches
/// by default and `cargo install --git` or `pip install git+https://...` name; `direct` and
/// `off` are GOPROXY's own words.
pub(crate) const PACKAGE_SOURCES: &[&str] = &[
    "registry.npmjs.org",
    "registry.yarnpkg.com",
    "pypi.org",
    "pypi.python.org",
    "files.pythonhosted.org",
    "proxy.golang.org",
    "index.crates.io",
    "crates.io",
    "rubygems.org",
    "jsr.io",
    "deno.land",
    "repo.packagist.org",
    "github.com",
    "gitlab.com",
    "codeberg.org",
    "bitbucket.org",
    "direct",
    "off",
];

/// apt options (`-o Key=Value`) whose value is a shell command run around dpkg.
const APT_COMMAND_KEYS: &[&str] = &[
    "apt::update::pre-invoke::",
    "apt::update::post-invoke::",
    "apt::update::post-invoke-success::",
    "dpkg::pre-invoke::",
    "dpkg::post-invoke::",
    "dpkg::pre-install-pkgs::",
];

/// cmake cache variables (`-DKEY=VALUE`, `-DKEY:TYPE=VALUE`) whose value is a command.
const CMAKE_COMMAND_KEYS: &[&str] = &[
    "*_launcher",
    "*_launcher:*",
    "cmake_*_compiler",
    "cmake_*_compiler:*",
    "cmake_crosscompiling_emulator*",
];

/// ssh options (`-o Key=Value`) whose value is a local command.
/// npm, pnpm and yarn configuration keys and package fields whose value is a command.
const NPM_COMMAND_KEYS: &[&str] = &[
    "scripts.*",
    "script-shell",
    "shell",
    "editor",
    "browser",
    "git",
    "viewer",
    "yarnpath",
];

const SSH_COMMAND_KEYS: &[&str] = &[
    "proxycommand",
    "localcommand",
    "knownhostscommand",
    "remotecommand",
];

/// Flags that make a tool only read the files its write-valued options name
/// (`ssh-keygen -y -f KEY` prints the public key of KEY).
pub(crate) const READ_MODES: &[(&str, &[&str])] = &[(
    "ssh-keygen",
    &[
        "-y", "-l", "-F", "-e", "-i", "-B", "-D", "-H", "-R", "-Y", "-k", "-Q",
    ],
)];

/// Options that take commands or write paths, one row per tool.
pub(crate) const OPTIONS: &[Options] = &[
    Options {
        tool: "git",
        opts: &[
            ("-c", Value::GitConfigOnce),
            ("--config-env", Value::GitConfigEnv),
            // Checkouts, resets and applies write into the work tree.
            ("--work-tree", Value::Write),
        ],
    },
    Options {
        tool: "git apply",
        opts: &[("--directory", Value::Write)],
    },
    Options {
        tool: "git rebase",
        opts: &[("-x", Value::Command), ("--exec", Value::Command)],
    },
    Options {
        tool: "git grep",
        opts: &[("--open-files-in-pager", Value::Command)],
    },
    Options {
        tool: "git bisect",
        opts: &[("run", Value::Argv)],
    },
    Options {
        tool: "git submodule",
        opts: &[("foreach", Value::Argv)],
    },
    Options {
        tool: "git filter-branch",
        opts: &[
            ("--tree-filter", Value::Command),
            ("--index-filter", Value::Command),
            ("--msg-filter", Value::Command),
            ("--env-filter", Value::Command),
            ("--commit-filter", Value::Command),
        ],
    },
    Options {
        tool: "cargo",
        opts: &[(
            "--config",
            Value::KeyCommand(&[
                "target.*.runner",
                "target.*.linker",
                "build.rustc",
                "build.rustc-wrapper",
                "build.rustc-workspace-wrapper",
                "registry.credential-provider",
                "registries.*.credential-provider",
            ]),
        )],
    },
    Options {
        tool: "git difftool",
        opts: &[("-x", Value::Command), ("--extcmd", Value::Command)],
    },
    Options {
        tool: "git push",
        opts: &[
            ("--receive-pack", Value::Command),
            ("--exec", Value::Command),
        ],
    },
    Options {
        tool: "git fetch",
        opts: &[("--upload-pack", Value::Command)],
    },
    Options {
        tool: "git clone",
        opts: &[
            ("-u", Value::Command),
            ("--upload-pack", Value::Command),
            ("-c", Value::GitConfig),
            ("--config", Value::GitConfig),
        ],
    },
    Options {
        tool: "ssh",
        opts: &[
            ("-o", Value::KeyCommand(SSH_COMMAND_KEYS)),
            ("-F", Value::ConfigFile(SSH_COMMAND_KEYS)),
        ],
    },
    Options {
        tool: "scp",
        opts: &[
            ("-o", Value::KeyCommand(SSH_COMMAND_KEYS)),
            ("-S", Value::Command),
        ],
    },
    Options {
        tool: "sftp",
        opts: &[
            ("-o", Value::KeyCommand(SSH_COMMAND_KEYS)),
            ("-S", Value::Command),
        ],
    },
    Options {
        tool: "rsync",
        opts: &[
            ("-e", Value::Command),
            ("--rsh", Value::Command),
            ("--rsync-path", Value::Command),
            ("--log-file", Value::Write),
        ],
    },
    Options {
        tool: "tar",
        opts: &[
            ("-I", Value::Command),
            ("--use-compress-program", Value::Command),
            ("--to-command", Value::Command),
            ("--info-script", Value::Command),
            ("--new-volume-script", Value::Command),
            ("-F", Value::Command),
            ("--checkpoint-action", Value::KeyCommand(&["exec"])),
            ("--rsh-command", Value::Command),
        ],
    },
    Options {
        tool: "find",
        opts: &[
            ("-fprint", Value::Write),
            ("-fprint0", Value::Write),
            ("-fprintf", Value::Write),
            ("-fls", Value::Write),
        ],
    },
    Options {
        tool: "zip",
        opts: &[("-TT", Value::Command), ("--unzip-command", Value::Command)],
    },
    Options {
        tool: "npm",
        opts: &[("set", Value::KeyCommand(NPM_COMMAND_KEYS))],
    },
    Options {
        tool: "pnpm",
        opts: &[("set", Value::KeyCommand(NPM_COMMAND_KEYS))],
    },
    Options {
        tool: "yarn config",
        opts: &[("set", Value::KeyCommand(NPM_COMMAND_KEYS))],
    },
    Options {
        tool: "npm",
        opts: &[("set-script", Value::KeyCommand(&["*"]))],
    },
    // npm's own `env` script runs `env` with the arguments after it.
    Options {
        tool: "npm run",
        opts: &[("env", Value::Argv)],
    },
    Options {
        tool: "npx",
        opts: &[("-c", Value::Command), ("--call", Value::Command)],
    },
    Options {
        tool: "bash",
        opts: &[("--rcfile", Value::Script), ("--init-file", Value::Script)],
    },
    Options {
        tool: "launchctl submit",
        opts: &[("--", Value::Argv)],
    },
    Options {
        tool: "npm exec",
        opts: &[("-c", Value::Command), ("--call", Value::Command)],
    },
    Options {
        tool: "npm x",
        opts: &[("-c", Value::Command), ("--call", Value::Command)],
    },
    // yarn 2+ runs `yarn exec CMD` through its shell (its argv is in `ARGV_RUNNERS`).
    Options {
        tool: "yarn",
        opts: &[("exec", Value::Command)],
    },
    Options {
        tool: "enable",
        opts: &[("-f", Value::Library)],
    },
    Options {
        tool: "nodemon",
        opts: &[("--exec", Value::Command), ("-x", Value::Command)],
    },
    Options {
        tool: "make",
        opts: &[
            ("--eval", Value::Command),
            ("-E", Value::Command),
            ("SHELL", Value::Command),
            (".SHELLFLAGS", Value::ShellFlags),
            ("-f", Value::Script),
            ("--file", Value::Script),
            ("--makefile", Value::Script),
        ],
    },
    Options {
        tool: "cmake",
        opts: &[
            ("-E", Value::Argv),
            ("-P", Value::Script),
            // `-DCMAKE_C_COMPILER_LAUNCHER=CMD`: a cache variable whose value runs.
            ("-D", Value::KeyCommand(CMAKE_COMMAND_KEYS)),
        ],
    },
    Options {
        tool: "cargo watch",
        opts: &[("-s", Value::Command), ("--shell", Value::Command)],
    },
    Options {
        tool: "npm",
        opts: &[("--script-shell", Value::Command)],
    },
    Options {
        tool: "gdb",
        opts: &[("-ex", Value::Command), ("--eval-command", Value::Command)],
    },
    Options {
        tool: "expect",
        opts: &[("-c", Value::Command), ("-f", Value::Script)],
    },
    Options {
        tool: "go",
        opts: &[("-exec", Value::Command), ("-toolexec", Value::Command)],
    },
    Options {
        tool: "entr",
        opts: &[("-s", Value::Command)],
    },
    Options {
        tool: "less",
        opts: &[("-o", Value::Write), ("--log-file", Value::Write)],
    },
    Options {
        tool: "man",
        opts: &[
            ("-P", Value::Command),
            ("--pager", Value::Command),
            ("-H", Value::Command),
            ("--html", Value::Command),
        ],
    },
    Options {
        tool: "nix-shell",
        opts: &[("--run", Value::Command), ("--command", Value::Command)],
    },
    Options {
        tool: "runuser",
        opts: &[("-c", Value::Command), ("--command", Value::Command)],
    },
    Options {
        tool: "sg",
        opts: &[("-c", Value::Command)],
    },
    Options {
        tool: "vagrant ssh",
        opts: &[("-c", Value::Command), ("--command", Value::Command)],
    },
    Options {
        tool: "docker",
        opts: &[("--entrypoint", Value::Command)],
    },
    Options {
        tool: "sqlite3",
        opts: &[("-cmd", Value::Command)],
    },
    Options {
        tool: "dbus-run-session",
        opts: &[("--", Value::Argv)],
    },
    Options {
        tool: "git init",
        opts: &[("--template", Value::HooksDir)],
    },
    Options {
        tool: "git clone",
        opts: &[("--template", Value::HooksDir)],
    },
    Options {
        tool: "ssh-keygen",
        opts: &[("-f", Value::Write)],
    },
    Options {
        tool: "csplit",
        opts: &[("-f", Value::Write), ("--prefix", Value::Write)],
    },
    Options {
        tool: "patch",
        opts: &[
            ("-o", Value::Write),
            ("--output", Value::Write),
            ("-d", Value::Write),
            ("--directory", Value::Write),
        ],
    },
    Options {
        tool: "wget",
        opts: &[("-P", Value::Write), ("--directory-prefix", Value::Write)],
    },
    // Compilers and linkers write their output file.
    Options {
        tool: "cc",
        opts: &[("-o", Value::Write)],
    },
    Options {
        tool: "gcc",
        opts: &[("-o", Value::Write)],
    },
    Options {
        tool: "g++",
        opts: &[("-o", Value::Write)],
    },
    Options {
        tool: "clang",
        opts: &[("-o", Value::Write)],
    },
    Options {
        tool: "ld",
        opts: &[("-o", Value::Write)],
    },
    Options {
        tool: "rustc",
        opts: &[("-o", Value::Write), ("--out-dir", Value::Write)],
    },
    Options {
        tool: "cmake",
        opts: &[("--prefix", Value::Write)],
    },
    Options {
        tool: "go build",
        opts: &[("-o", Value::Write)],
    },
    Options {
        tool: "cargo build",
        opts: &[
            ("--out-dir", Value::Write),
            ("--artifact-dir", Value::Write),
        ],
    },
    Options {
        tool: "openssl",
        opts: &[("-out", Value::Write), ("-keyout", Value::Write)],
    },
    Options {
        tool: "pip install",
        opts: &[
            ("-t", Value::Write),
            ("--target", Value::Write),
            ("--prefix", Value::Write),
            ("--root", Value::Write),
        ],
    },
    Options {
        tool: "npm",
        opts: &[("--prefix", Value::Write)],
    },
    Options {
        tool: "cargo install",
        opts: &[("--root", Value::Write)],
    },
    Options {
        tool: "7z",
        opts: &[("-o", Value::Write)],
    },
    Options {
        tool: "cpio",
        opts: &[("-D", Value::Write), ("--directory", Value::Write)],
    },
    // Tools that write their output to the file an option names.
    Options {
        tool: "shuf",
        opts: &[("-o", Value::Write), ("--output", Value::Write)],
    },
    Options {
        tool: "gpg",
        opts: &[("-o", Value::Write), ("--output", Value::Write)],
    },
    Options {
        tool: "age",
        opts: &[("-o", Value::Write), ("--output", Value::Write)],
    },
    Options {
        tool: "git archive",
        opts: &[("-o", Value::Write), ("--output", Value::Write)],
    },
    Options {
        tool: "git format-patch",
        opts: &[("-o", Value::Write), ("--output-directory", Value::Write)],
    },
    Options {
        tool: "docker save",
        opts: &[("-o", Value::Write), ("--output", Value::Write)],
    },
    Options {
        tool: "docker export",
        opts: &[("-o", Value::Write), ("--output", Value::Write)],
    },
    Options {
        tool: "podman save",
        opts: &[("-o", Value::Write), ("--output", Value::Write)],
    },
    Options {
        tool: "pg_dump",
        opts: &[("-f", Value::Write), ("--file", Value::Write)],
    },
    Options {
        tool: "mysqldump",
        opts: &[("-r", Value::Write), ("--result-file", Value::Write)],
    },
    Options {
        tool: "iconv",
        opts: &[("-o", Value::Write), ("--output", Value::Write)],
    },
    Options {
        tool: "pandoc",
        opts: &[("-o", Value::Write), ("--output", Value::Write)],
    },
    Options {
        tool: "zstd",
        opts: &[("-o", Value::Write)],
    },
    Options {
        tool: "terraform plan",
        opts: &[("-out", Value::Write)],
    },
    Options {
        tool: "go test",
        opts: &[("-o", Value::Write)],
    },
    Options {
        tool: "psql",
        opts: &[("-o", Value::Output), ("--output", Value::Output)],
    },
    Options {
        tool: "wget",
        opts: &[("--use-askpass", Value::Command)],
    },
    Options {
        tool: "git send-email",
        opts: &[
            ("--sendmail-cmd", Value::Command),
            ("--to-cmd", Value::Command),
            ("--cc-cmd", Value::Command),
            ("--header-cmd", Value::Command),
        ],
    },
    Options {
        tool: "sort",
        opts: &[
            ("--compress-program", Value::Command),
            ("-o", Value::Write),
            ("--output", Value::Write),
        ],
    },
    Options {
        tool: "gh alias",
        opts: &[("set", Value::Argv)],
    },
    Options {
        tool: "curl",
        opts: &[("-K", Value::OptionsFile), ("--config", Value::OptionsFile)],
    },
    Options {
        tool: "wget",
        opts: &[("--config", Value::OptionsFile)],
    },
    Options {
        tool: "start-stop-daemon",
        opts: &[
            ("--exec", Value::Program),
            ("-x", Value::Program),
            ("--startas", Value::Program),
            ("-a", Value::Program),
        ],
    },
    Options {
        tool: "apt-get",
        opts: &[("-o", Value::KeyCommand(APT_COMMAND_KEYS))],
    },
    Options {
        tool: "apt",
        opts: &[("-o", Value::KeyCommand(APT_COMMAND_KEYS))],
    },
];

/// Desktop settings tools: the verb that writes, and the positions of the key and of its
/// value among the operands after the verb (`gsettings set SCHEMA KEY VALUE`,
/// `dconf write /PATH/KEY VALUE`).
pub(crate) const DESKTOP_SETTERS: &[(&str, &str, usize, usize)] =
    &[("gsettings", "set", 1, 2), ("dconf", "write", 0, 1)];

/// Desktop setting keys (the last part of a path) whose value is a command run later.
pub(crate) const DESKTOP_COMMAND_KEYS: &[&str] = &[
    "command",
    "*-command",
    "exec",
    "*-exec",
    "commandline",
    "*-commandline",
];

/// Tools whose `NAME=VALUE` operands are variables their commands expand (`make CC=...`):
/// each is judged as the environment assignment of the same name.
pub(crate) const VARIABLE_OPERANDS: &[&str] = &["make", "gmake", "bmake", "remake"];

/// Environment variables (glob patterns) whose value is a command, a sourced script or a
/// library.
pub(crate) const ENV_VALUES: &[(&str, Value)] = &[
    ("GIT_SSH_COMMAND", Value::Command),
    ("GIT_SSH", Value::Command),
    ("GIT_EXTERNAL_DIFF", Value::Command),
    ("GIT_EDITOR", Value::Command),
    ("GIT_SEQUENCE_EDITOR", Value::Command),
    ("GIT_PAGER", Value::Command),
    ("GIT_ASKPASS", Value::Command),
    ("GIT_PROXY_COMMAND", Value::Command),
    ("GIT_CONFIG_PARAMETERS", Value::GitConfigOnce),
    ("GIT_CONFIG_GLOBAL", Value::GitConfigFile),
    ("GIT_CONFIG_SYSTEM", Value::GitConfigFile),
    ("GIT_CONFIG", Value::GitConfigFile),
    ("SSH_ASKPASS", Value::Command),
    ("EDITOR", Value::Command),
    ("VISUAL", Value::Command),
    ("PAGER", Value::Command),
    ("MANPAGER", Value::Command),
    ("SYSTEMD_PAGER", Value::Command),
    ("LESSOPEN", Value::Command),
    ("LESSCLOSE", Value::Command),
    ("PROMPT_COMMAND", Value::Command),
    // `make DESTDIR=/ install` installs below DESTDIR.
    ("DESTDIR", Value::Write),
    ("PS0", Value::Prompt),
    ("PS1", Value::Prompt),
    ("PS2", Value::Prompt),
    ("PS4", Value::Prompt),
    ("BROWSER", Value::Command),
    ("SUDO_ASKPASS", Value::Command),
    ("RSYNC_RSH", Value::Command),
    ("CVS_RSH", Value::Command),
    ("BASH_ENV", Value::Script),
    ("PYTHONSTARTUP", Value::Script),
    ("npm_config_script_shell", Value::Command),
    ("NPM_CONFIG_SCRIPT_SHELL", Value::Command),
    ("ENV", Value::Script),
    ("RUSTC_WRAPPER", Value::Command),
    ("RUSTC_WORKSPACE_WRAPPER", Value::Command),
    ("CARGO_BUILD_RUSTC_WRAPPER", Value::Command),
    ("CARGO_TARGET_*_RUNNER", Value::Command),
    ("CARGO_TARGET_*_LINKER", Value::Command),
    ("CC", Value::Command),
    ("CXX", Value::Command),
    // make's program variables, expanded at the start of recipe lines.
    ("CPP", Value::Command),
    ("LD", Value::Command),
    ("AR", Value::Command),
    ("AS", Value::Command),
    ("FC", Value::Command),
    ("RM", Value::Command),
    ("MAKE", Value::Command),
    ("INSTALL", Value::Command),
    ("MAKESHELL", Value::Command),
    // Families by name: any editor, pager, browser, password prompt, launcher, wrapper,
    // viewer or runner a tool reads from the environment runs as a command.
    ("*EDITOR", Value::Command),
    ("FCEDIT", Value::Command),
    ("*PAGER", Value::Command),
    ("*BROWSER", Value::Command),
    ("*ASKPASS", Value::Command),
    ("*_COMMAND", Value::Command),
    ("*_CMD", Value::Command),
    ("*_LAUNCHER", Value::Command),
    ("*_WRAPPER", Value::Command),
    ("*VIEWER", Value::Command),
    ("*_RUNNER", Value::Command),
    ("*_RSH", Value::Command),
    ("TERMINAL", Value::Command),
    ("RSYNC_CONNECT_PROG", Value::Command),
    ("TAR_OPTIONS", Value::ToolOptions("tar")),
    ("MAKEFLAGS", Value::ToolOptions("make")),
    ("GNUMAKEFLAGS", Value::ToolOptions("make")),
    ("LESS", Value::ToolOptions("less")),
    ("PERL5OPT", Value::Flags("perl")),
    ("RUBYOPT", Value::Flags("ruby")),
    ("NODE_OPTIONS", Value::Flags("node")),
    ("LD_PRELOAD", Value::Library),
    ("LD_AUDIT", Value::Library),
    ("DYLD_INSERT_LIBRARIES", Value::Library),
];
