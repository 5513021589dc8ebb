//! What the corpus tests share: the files of a corpus directory, and their names.

use std::path::{Path, PathBuf};

/// The files of `dir`, sorted (a missing directory fails the test, naming it).
pub fn corpus_files(dir: &Path) -> Vec<PathBuf> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("corpus directory {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> =
        entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

/// The file name of `path`, for messages.
pub fn file_name(path: &Path) -> String {
    path.file_name().unwrap_or_default().to_string_lossy().into_owned()
}
