//! The `ftsb-fs` binary: parses the command line and hands over to [`ftsb_fs::cli`].

fn main() {
    std::process::exit(ftsb_fs::cli::main());
}
