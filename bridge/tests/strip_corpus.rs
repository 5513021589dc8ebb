//! Replies as the mail clients members use write them (invented people), with the text that
//! must reach the room: every case in tests/corpus/replies, reported all at once.

use std::path::Path;

use relais_bridge::inbound::strip::{html_to_text, strip_reply};

#[test]
fn every_client_reply_is_reduced_to_its_new_text() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/replies");
    let mut cases = 0;
    let mut failures = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir).expect("corpus dir").filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let text = match path.extension().and_then(|e| e.to_str()) {
            Some("txt") => strip_reply(&std::fs::read_to_string(&path).expect("case")),
            Some("html") => strip_reply(&html_to_text(&std::fs::read_to_string(&path).expect("case"))),
            _ => continue,
        };
        cases += 1;
        let expected = std::fs::read_to_string(path.with_extension("expected")).expect("expected file");
        if text != expected.trim_end() {
            failures.push(format!(
                "--- {}\nexpected:\n{}\ngot:\n{text}\n",
                path.file_name().unwrap_or_default().to_string_lossy(),
                expected.trim_end()
            ));
        }
    }
    assert!(cases >= 14, "the corpus holds only {cases} cases");
    assert!(failures.is_empty(), "{} of {cases} cases differ:\n{}", failures.len(), failures.join("\n"));
}
