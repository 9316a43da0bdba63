//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/*`) through the same
//! `smtp_proto::__fuzz` function its cargo-fuzz target calls, so that plain `cargo test` on
//! the stable toolchain exercises the seeds and every reproducer of a past crash.

use std::fs;
use std::path::{Path, PathBuf};

use smtp_proto::__fuzz;

/// What a fuzz target runs on one input.
type FuzzFn = fn(&[u8]);

/// The fuzz targets and the functions they wrap (`fuzz/fuzz_targets/<name>.rs`).
const TARGETS: &[(&str, FuzzFn)] = &[
    ("command", __fuzz::command),
    ("reply", __fuzz::reply),
    ("ehlo", __fuzz::ehlo),
    ("path", __fuzz::path),
    ("params", __fuzz::params),
    ("sasl", __fuzz::sasl),
    ("roundtrip", __fuzz::roundtrip),
    ("server_script", __fuzz::server_script),
    ("split_differential", __fuzz::server_split_differential),
    ("client_script", __fuzz::client_script),
    (
        "client_split_differential",
        __fuzz::client_split_differential,
    ),
];

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus")
}

fn replay(target: &str) -> usize {
    let (_, run) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("corpus directory {target} has no target in TARGETS"));
    let dir = corpus_root().join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    files.sort();
    for file in &files {
        let data = fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        // A panic names the file, so a failing reproducer is found at once.
        eprintln!("replaying {}", file.display());
        run(&data);
    }
    files.len()
}

/// Every corpus directory belongs to a target, and every target has seeds.
#[test]
fn every_corpus_directory_has_a_target_and_seeds() {
    let mut dirs: Vec<String> = fs::read_dir(corpus_root())
        .expect("fuzz/corpus exists")
        .map(|e| {
            e.expect("readable entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    dirs.sort();
    let mut targets: Vec<String> = TARGETS.iter().map(|(n, _)| (*n).to_owned()).collect();
    targets.sort();
    assert_eq!(dirs, targets);
}

macro_rules! replay_tests {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            assert!(replay(stringify!($name)) > 0, "no seeds for {}", stringify!($name));
        }
    )*};
}

replay_tests!(
    command,
    reply,
    ehlo,
    path,
    params,
    sasl,
    roundtrip,
    server_script,
    split_differential,
    client_script,
    client_split_differential,
);
