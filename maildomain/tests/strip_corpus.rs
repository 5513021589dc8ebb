//! Replies as the mail clients members use write them (invented people), with the text that
//! must reach the room: every case in tests/corpus/replies, reported all at once.
//!
//! A case is `NAME.txt` (a text/plain body, run through `strip_reply`) or `NAME.html` (an
//! HTML-only body, run through `html_to_text` then `strip_reply`), next to `NAME.expected`: the
//! exact expected text (one final newline, if an editor added it, is ignored).

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::{corpus_files, file_name};

use relais_maildomain::strip::{html_to_text, strip_reply};

/// Fewer cases than this means the corpus went missing, not that it passes.
const MIN_CASES: usize = 14;

#[test]
fn every_client_reply_is_reduced_to_its_new_text() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/replies");
    let files = corpus_files(&dir);
    let mut cases = 0;
    let mut failures = Vec::new();
    for path in &files {
        let name = file_name(path);
        let convert: fn(&str) -> String = match path.extension().and_then(|e| e.to_str()) {
            Some("txt") => strip_reply,
            Some("html") => |html| strip_reply(&html_to_text(html)),
            Some("expected") => {
                if !files.contains(&path.with_extension("txt"))
                    && !files.contains(&path.with_extension("html"))
                {
                    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
                    failures.push(format!("--- {name}: no {stem}.txt or {stem}.html next to it"));
                }
                continue;
            }
            _ => continue,
        };
        cases += 1;
        let input = std::fs::read_to_string(path).expect("readable UTF-8 case");
        let Ok(expected) = std::fs::read_to_string(path.with_extension("expected")) else {
            failures.push(format!("--- {name}: missing {}", file_name(&path.with_extension("expected"))));
            continue;
        };
        let expected = expected.strip_suffix('\n').unwrap_or(&expected);
        let got = convert(&input);
        if got != expected {
            failures.push(format!("--- {name} (- expected, + got)\n{}", diff(expected, &got)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) in {cases} case(s) of {}:\n\n{}",
        failures.len(),
        dir.display(),
        failures.join("\n")
    );
    assert!(cases >= MIN_CASES, "{} holds only {cases} cases, expected at least {MIN_CASES}", dir.display());
}

/// A line diff (longest common subsequence), lines shown quoted so that spaces and invisible
/// characters can be told apart.
fn diff(expected: &str, got: &str) -> String {
    let a: Vec<&str> = expected.split('\n').collect();
    let b: Vec<&str> = got.split('\n').collect();
    // common[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let mut common = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            common[i][j] =
                if a[i] == b[j] { common[i + 1][j + 1] + 1 } else { common[i + 1][j].max(common[i][j + 1]) };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            let _ = writeln!(out, "  {:?}", a[i]);
            (i, j) = (i + 1, j + 1);
        } else if j < b.len() && (i == a.len() || common[i][j + 1] >= common[i + 1][j]) {
            let _ = writeln!(out, "+ {:?}", b[j]);
            j += 1;
        } else {
            let _ = writeln!(out, "- {:?}", a[i]);
            i += 1;
        }
    }
    out
}
