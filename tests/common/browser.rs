//! A headless Debian `chromium` for the browser tests, installed with
//! apt-get when missing (as CI does for its other peers).

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use super::{have, ChildGuard};

/// `chromium` on the PATH, installed with apt-get if need be.
pub fn chromium() -> &'static str {
    if !have("chromium") {
        let status = Command::new("sh")
            .arg("-c")
            .arg("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium")
            .stdin(Stdio::null())
            .status();
        assert!(
            matches!(status, Ok(s) if s.success()) && have("chromium"),
            "this test needs Debian's `chromium`, and `apt-get install -y chromium` failed \
             ({status:?}): run as root with Debian's package archive reachable"
        );
    }
    "chromium"
}

/// A headless chromium in a process group of its own, the whole group
/// killed (by its id) on drop: the browser's renderer and helper processes
/// go with it.
pub struct Browser {
    child: ChildGuard,
    profile: std::path::PathBuf,
}

impl Browser {
    /// Opens `url` in a fresh profile.
    pub fn open(url: &str) -> Browser {
        Browser::open_with(url, &[])
    }

    /// Opens `url` with more command-line flags (`--ignore-certificate-errors`, say).
    pub fn open_with(url: &str, flags: &[&str]) -> Browser {
        let profile = std::env::temp_dir().join(format!(
            "nodelike-browser-{}-{}",
            std::process::id(),
            super::free_port()
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).unwrap();
        let child = ChildGuard::spawn(
            Command::new(chromium())
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                ])
                .args(flags)
                .arg(format!("--user-data-dir={}", profile.display()))
                .arg(url)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                // Its stderr is chatty (no D-Bus here): kept out of the test's.
                .stderr(Stdio::null())
                .process_group(0),
        )
        .expect("start chromium");
        Browser { child, profile }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
