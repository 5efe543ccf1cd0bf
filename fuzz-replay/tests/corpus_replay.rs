//! Every committed fuzz corpus file runs through its target on stable, in the normal test run.
//! CI replays the corpus; it does not fuzz (fuzz/README.md says how to fuzz).

use std::path::{Path, PathBuf};

use kanjo_fuzz_replay::{TARGETS, Target};

/// A corpus folder holds at most this many files, so the replay stays quick.
const CORPUS_FILES_MAX: usize = 1000;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

fn corpus_files(target: &str) -> Vec<PathBuf> {
    let dir = corpus_dir(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("corpus folder {} cannot be read: {error}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Runs one target over its corpus; the names of the files that panicked.
fn replay(target: &str, run: Target) -> Vec<String> {
    let files = corpus_files(target);
    assert!(!files.is_empty(), "the {target} corpus is empty");
    assert!(
        files.len() <= CORPUS_FILES_MAX,
        "the {target} corpus has {} files",
        files.len()
    );
    files
        .iter()
        .filter_map(|path| {
            let data = std::fs::read(path).expect("a corpus file");
            std::panic::catch_unwind(|| run(&data))
                .is_err()
                .then(|| path.display().to_string())
        })
        .collect()
}

#[test]
fn every_corpus_file_of_every_target_runs_without_a_panic() {
    let failures: Vec<String> = TARGETS
        .iter()
        .flat_map(|&(target, run)| replay(target, run))
        .collect();
    assert!(failures.is_empty(), "inputs that panic: {failures:#?}");
}

#[test]
fn every_corpus_folder_belongs_to_a_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for entry in std::fs::read_dir(&root).expect("fuzz/corpus") {
        let name = entry.expect("a corpus folder").file_name();
        let name = name.to_string_lossy();
        assert!(
            TARGETS.iter().any(|(target, _)| *target == name),
            "fuzz/corpus/{name} has no target in kanjo_fuzz_replay::TARGETS"
        );
    }
}

#[test]
fn every_target_has_a_fuzz_binary_that_calls_the_same_function() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for (target, _) in TARGETS {
        let path = root.join("fuzz_targets").join(format!("{target}.rs"));
        let source = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{} cannot be read: {error}", path.display()));
        assert!(
            source.contains(&format!("kanjo_fuzz_replay::{target}(data)")),
            "{} does not call kanjo_fuzz_replay::{target}",
            path.display()
        );
        assert!(
            manifest.contains(&format!("name = \"{target}\"")),
            "fuzz/Cargo.toml has no [[bin]] {target}"
        );
    }
}
