//! The shared bodies of the adapters' example programs (feature `examples`): each adapter's
//! `maildir-server` and `send` binary parses nothing itself and calls [`maildir_server::main`]
//! or [`send::main`] with its runtime, so scripts can start either adapter's examples with
//! exactly the same flags.

pub mod maildir_server;
pub mod send;

use std::path::PathBuf;

use crate::runtime::Runtime;

/// What `PROGRAM --version` prints: the program, the adapter and the runtime type, e.g.
/// `maildir-server smtp-tokio (smtp_tokio::runtime::Tokio)`.
pub fn version<R: Runtime>(program: &str) -> String {
    format!("{program} {} ({})", R::NAME, std::any::type_name::<R>())
}

/// Finds the example program `name` that cargo built for the calling test binary's profile
/// and whose `--version` is `version` (newest first when several match).
///
/// The adapters' examples share their names (`maildir-server`, `send`), so the copy cargo
/// puts at `target/<profile>/examples/<name>` belongs to whichever package was built last;
/// the hashed originals next to it (`<name>-<hash>`) are per package and feature set, and
/// `--version` tells them apart.
pub fn built_example(name: &str, version: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?.join("examples");
    let prefix = format!("{}-", name.replace('-', "_"));
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix(&prefix))
                .is_some_and(|hash| hash.bytes().all(|b| b.is_ascii_alphanumeric()))
        })
        .filter(|path| {
            std::process::Command::new(path)
                .arg("--version")
                .output()
                .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == version)
        })
        .filter_map(|path| Some((path.metadata().ok()?.modified().ok()?, path)))
        .collect();
    found.sort();
    found.pop().map(|(_, path)| path)
}

/// Parses a socket address flag value.
fn addr(s: &str) -> Result<std::net::SocketAddr, String> {
    s.parse().map_err(|e| format!("bad address {s:?}: {e}"))
}

/// Parses a number flag value.
fn number<T: std::str::FromStr>(s: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e| format!("bad number {s:?}: {e}"))
}
