//! The Maildir store over tokio's blocking threads: atomic commit, nothing left behind by an
//! abort or a drop, unique names.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use smtp_tokio::maildir::{Maildir, WRITE_BATCH};

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

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

#[tokio::test]
async fn a_body_larger_than_one_batch_is_written_whole_and_in_order() -> io::Result<()> {
    let root = scratch("batch");
    let md = Maildir::create(&root, "h").await?;
    let mut d = md.begin().await?;
    let body: Vec<u8> = (0..WRITE_BATCH * 3 + 17).map(|i| (i % 251) as u8).collect();
    for piece in body.chunks(1000) {
        d.write(piece).await?;
    }
    assert_eq!(d.size(), body.len() as u64);
    let name = d.commit().await?;
    assert_eq!(std::fs::read(root.join("new").join(&name))?, body);
    std::fs::remove_dir_all(&root)
}
