//! Autobahn|Testsuite against our WebSocket server (examples/ws_echo) and
//! client (examples/ws_autobahn_client), through benches/autobahn/run.py's
//! `--ci` preset: sections 1 to 10 and one case of each 12.x and 13.x
//! (permessage-deflate) group. No case may fail; a case may be other than
//! OK only when it is in [`ALLOWED`]. wstest runs on Python 2.7: the runner
//! installs it (pinned, from PyPI) when missing, and CI does so up front
//! (`.ci/run`); when it cannot, these tests fail and say why.
//!
//! The reports stay in target/tmp/autobahn-{server,client}/index.html.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::example_bin;

/// The cases that may be other than OK (never FAILED), and why.
const ALLOWED: &[(&str, &str)] = &[
    // An invalid UTF-8 sequence in a fragmented text message: failing at
    // the fragment that breaks it is STRICT, failing at the end of the
    // message NON-STRICT (ws, Node's, is NON-STRICT here).
    (
        "6.4.1",
        "NON-STRICT: invalid UTF-8 found at the message's end, not its fragment",
    ),
    ("6.4.2", "NON-STRICT: likewise"),
    ("6.4.3", "NON-STRICT: likewise"),
    ("6.4.4", "NON-STRICT: likewise"),
    // INFORMATIONAL by the suite's own definition (what the peer does
    // after a close, and the close reason it echoes).
    ("7.1.6", "INFORMATIONAL: a large message sent after a close"),
    (
        "7.13.1",
        "INFORMATIONAL: a close code outside the registered ranges",
    ),
    ("7.13.2", "INFORMATIONAL: likewise"),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn runner() -> PathBuf {
    root().join("benches").join("autobahn").join("run.py")
}

/// Makes sure wstest is there (installing it when missing), or fails
/// saying what to do.
fn ensure_wstest() {
    assert!(
        common::have("python3"),
        "python3 is missing: it runs benches/autobahn/run.py"
    );
    let out = Command::new("python3")
        .arg(runner())
        .arg("install")
        .current_dir(root())
        .output()
        .expect("run benches/autobahn/run.py install");
    if !out.status.success() {
        panic!(
            "Autobahn|Testsuite (wstest) is not installed and could not be: it needs a Python 2.7 \
             (pyenv's ~/.pyenv/versions/2.7.*, python2.7, or $NODELIKE_PYTHON2) and PyPI; \
             `python3 benches/autobahn/run.py install` said:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn run(mode: &str, cmd_flag: &str, cmd: String) {
    ensure_wstest();
    let outdir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("autobahn-{mode}"));
    let mut c = Command::new("python3");
    c.arg(runner())
        .arg(mode)
        .arg("--ci")
        .arg(cmd_flag)
        .arg(cmd)
        .arg("--agent")
        .arg(format!("nodelike-{mode}"))
        .arg("--outdir")
        .arg(&outdir)
        .arg("--strict")
        .arg("--timeout")
        .arg("900")
        .arg("--allow")
        .args(ALLOWED.iter().map(|(case, _)| *case))
        .current_dir(root());
    let out = c.output().expect("run benches/autobahn/run.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "Autobahn|Testsuite, {mode} mode: not passed (exit {:?}); the table above lists the cases, \
         the reports are in {}",
        out.status.code(),
        outdir.display()
    );
    assert!(stdout.contains("autobahn: passed"));
}

#[test]
#[cfg_attr(
    not(feature = "tls"),
    ignore = "run once, in the default-features pass (no TLS here; CI runs cargo test twice)"
)]
fn autobahn_server_mode_against_ws_echo() {
    let bin = example_bin("ws_echo");
    assert!(
        bin.exists(),
        "{} is missing (cargo test builds it)",
        bin.display()
    );
    run(
        "server",
        "--server-cmd",
        format!("'{}' {{port}}", bin.display()),
    );
}

#[test]
#[cfg_attr(
    not(feature = "tls"),
    ignore = "run once, in the default-features pass (no TLS here; CI runs cargo test twice)"
)]
fn autobahn_client_mode_with_ws_autobahn_client() {
    let bin = example_bin("ws_autobahn_client");
    assert!(
        bin.exists(),
        "{} is missing (cargo test builds it)",
        bin.display()
    );
    run(
        "client",
        "--client-cmd",
        format!("'{}' {{url}} {{agent}}", bin.display()),
    );
}
