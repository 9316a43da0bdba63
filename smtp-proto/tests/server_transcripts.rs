//! Runs every `tests/transcripts/*.txt` whole, byte by byte and at random splits; the runs
//! must agree on every output byte and every event.

mod server_common;

use std::path::Path;

#[test]
fn all_transcripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("transcripts directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    entries.sort();
    assert!(
        entries.len() >= 30,
        "expected the transcript set, found {}",
        entries.len()
    );
    let only = std::env::var("TRANSCRIPT").ok();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read transcript");
        server_common::check_transcript(&name, &text);
    }
}
