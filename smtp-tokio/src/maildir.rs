//! A Maildir store (the `maildir` format of qmail and Dovecot), written atomically and
//! streamed: each message goes to `tmp/` chunk by chunk as it arrives, is fsynced, then
//! renamed into `new/`. A message never appears in `new/` half written, and a delivery that
//! is dropped before [`Delivery::commit`] removes its `tmp/` file.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::fs::{self, File, OpenOptions};
use tokio::io::AsyncWriteExt;

/// A Maildir directory with its `tmp/`, `new/` and `cur/` subdirectories.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
    host: String,
}

/// Unique within the process; with the time and the pid it makes names unique on a host.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

impl Maildir {
    /// Opens (creating if needed) the Maildir at `root`. `host` goes into file names; `/` and
    /// `:` in it are escaped as the Maildir convention says (`\057`, `\072`).
    pub async fn create(root: impl Into<PathBuf>, host: &str) -> io::Result<Self> {
        let root = root.into();
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(root.join(sub)).await?;
        }
        let host = host.replace('/', "\\057").replace(':', "\\072");
        Ok(Maildir { root, host })
    }

    /// The Maildir's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Starts a message: creates a new, uniquely named file in `tmp/`.
    pub async fn begin(&self) -> io::Result<Delivery> {
        let pid = std::process::id();
        loop {
            let secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
            let name = format!("{secs}.{pid}_{seq}.{}", self.host);
            let tmp_path = self.root.join("tmp").join(&name);
            // `create_new`: an existing file (another process that reused our pid in the same
            // second) is never overwritten; take the next sequence number instead.
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp_path)
                .await
            {
                Ok(file) => {
                    return Ok(Delivery {
                        file: Some(file),
                        tmp_path,
                        new_dir: self.root.join("new"),
                        name,
                        size: 0,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// A message being written into `tmp/`.
#[derive(Debug)]
pub struct Delivery {
    /// `None` once committed or aborted.
    file: Option<File>,
    tmp_path: PathBuf,
    new_dir: PathBuf,
    name: String,
    size: u64,
}

impl Delivery {
    /// The file's unique name (the same in `tmp/` and `new/`): the message's id.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a chunk.
    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        let file = self.file.as_mut().ok_or_else(finished)?;
        file.write_all(chunk).await?;
        self.size += chunk.len() as u64;
        Ok(())
    }

    /// Makes the message durable and visible: fsync the file, rename it into `new/`, fsync
    /// `new/` so the rename itself survives a crash. Returns the file name.
    pub async fn commit(mut self) -> io::Result<String> {
        let mut file = self.file.take().ok_or_else(finished)?;
        let result = async {
            file.flush().await?;
            file.sync_all().await?;
            drop(file);
            let new_path = self.new_dir.join(&self.name);
            fs::rename(&self.tmp_path, &new_path).await?;
            sync_dir(&self.new_dir).await
        }
        .await;
        match result {
            Ok(()) => Ok(std::mem::take(&mut self.name)),
            Err(e) => {
                let _ = fs::remove_file(&self.tmp_path).await;
                Err(e)
            }
        }
    }

    /// Drops the message: removes its `tmp/` file.
    pub async fn abort(mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp_path).await;
        }
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        // Neither committed nor aborted: the connection task died mid-message (peer gone,
        // task aborted at shutdown). Leave nothing behind.
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

fn finished() -> io::Error {
    io::Error::other("delivery already committed or aborted")
}

async fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
        .await
        .map_err(io::Error::other)?
}

/// This machine's host name for Maildir names and `Received:` headers, from the kernel;
/// `localhost` when it cannot be read.
pub fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "smtp-tokio-maildir-{name}-{}-{}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    #[tokio::test]
    async fn commit_moves_the_whole_message_into_new() -> io::Result<()> {
        let root = scratch("commit");
        let md = Maildir::create(&root, "host/with:odd").await?;
        let mut d = md.begin().await?;
        assert!(d.name().ends_with(".host\\057with\\072odd"), "{}", d.name());
        assert_eq!(names(&root.join("tmp")), vec![d.name().to_owned()]);
        d.write(b"Subject: x\r\n\r\n").await?;
        d.write(b"body\r\n").await?;
        assert_eq!(d.size(), 20);
        assert!(names(&root.join("new")).is_empty());
        let name = d.commit().await?;
        assert!(names(&root.join("tmp")).is_empty());
        assert_eq!(names(&root.join("new")), vec![name.clone()]);
        assert_eq!(
            std::fs::read(root.join("new").join(&name))?,
            b"Subject: x\r\n\r\nbody\r\n"
        );
        std::fs::remove_dir_all(&root)
    }

    #[tokio::test]
    async fn abort_and_drop_leave_nothing() -> io::Result<()> {
        let root = scratch("abort");
        let md = Maildir::create(&root, "h").await?;
        let mut a = md.begin().await?;
        a.write(b"partial").await?;
        a.abort().await;
        let mut b = md.begin().await?;
        b.write(b"partial").await?;
        drop(b);
        assert!(names(&root.join("tmp")).is_empty());
        assert!(names(&root.join("new")).is_empty());
        std::fs::remove_dir_all(&root)
    }

    #[tokio::test]
    async fn names_are_unique() -> io::Result<()> {
        let root = scratch("unique");
        let md = Maildir::create(&root, "h").await?;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let d = md.begin().await?;
            assert!(seen.insert(d.name().to_owned()));
            d.commit().await?;
        }
        assert_eq!(names(&root.join("new")).len(), 200);
        std::fs::remove_dir_all(&root)
    }
}
