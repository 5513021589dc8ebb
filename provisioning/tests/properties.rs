//! Property tests of the membership file reader: whatever bytes a referent uploads (another
//! encoding, another separator, a spreadsheet's export gone wrong, or junk), `read` never panics,
//! and either refuses the whole file or reads it, every rejected row with the line an editor
//! shows. Arbitrary bytes and mutations of the shipped sample, 256 cases each.

use proptest::prelude::*;
use relais_provisioning::reader::{ReadReport, read};

const SAMPLE: &[u8] = include_bytes!("../../tests/data/members.csv");

/// Pieces that steer a CSV reader into its corners.
const FRAGMENTS: &[&[u8]] = &[
    b";",
    b",",
    b"\t",
    b"\"",
    b"\"\"",
    b"\n",
    b"\r\n",
    b"\r",
    b"\xef\xbb\xbf",
    b"\xe9",
    b"\xff\xfe",
    b"oui",
    b"non",
    b"|",
    b"@x:pcf.test",
    b"000123",
    b" ",
    b"\0",
];

/// One change to the sample: insert a fragment or bytes, delete, repeat a slice, set a byte.
fn mutated_sample() -> impl Strategy<Value = Vec<u8>> {
    let change = prop_oneof![
        (any::<usize>(), prop::sample::select(FRAGMENTS).prop_map(<[u8]>::to_vec)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..6)),
        (any::<usize>(), Just(Vec::new())),
    ];
    (prop::collection::vec((change, 0..40usize, 1..50usize), 0..10)).prop_map(|changes| {
        let mut bytes = SAMPLE.to_vec();
        for ((at, insert), delete, repeat) in changes {
            let at = at % (bytes.len() + 1);
            let end = (at + delete).min(bytes.len());
            let piece = if insert.is_empty() { bytes[at..end].repeat(repeat) } else { insert };
            bytes.splice(at..end, piece);
        }
        bytes
    })
}

/// Every line an error or a row names is one of the file's lines.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let Ok(ReadReport { rows, errors, .. }) = read(bytes) else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(bytes).replace("\r\n", "\n").replace('\r', "\n");
    let lines = text.split('\n').count() as u64;
    for error in &errors {
        prop_assert!(
            (1..=lines).contains(&error.line),
            "error at line {} of {lines}: {}",
            error.line,
            error.message
        );
        prop_assert!(!error.message.is_empty());
    }
    for row in &rows {
        prop_assert!((2..=lines).contains(&row.line), "row at line {} of {lines}", row.line);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        check(&bytes)?;
    }

    #[test]
    fn any_text(text in any::<String>()) {
        check(text.as_bytes())?;
    }

    #[test]
    fn mutations_of_the_sample(bytes in mutated_sample()) {
        check(&bytes)?;
    }
}

#[test]
fn the_sample_reads_whole() {
    let report = read(SAMPLE).expect("the sample reads");
    assert!(report.errors.is_empty() && report.rows.len() == 8, "{:?}", report.errors);
}
