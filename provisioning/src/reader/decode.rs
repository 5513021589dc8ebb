//! Bytes to text: UTF-8 with or without BOM, or Windows-1252; and the separator in use.

/// The encoding the file was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Encoding {
    Utf8,
    Windows1252,
}

/// Decodes `bytes`: valid UTF-8 (BOM dropped) is taken as is, anything else as Windows-1252,
/// which every byte sequence is.
pub fn decode(bytes: &[u8]) -> (String, Encoding) {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_owned(), Encoding::Utf8),
        Err(_) => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            (text.into_owned(), Encoding::Windows1252)
        }
    }
}

/// The separator of the header line: `;`, `,` or tab, whichever occurs most outside quotes.
pub fn detect_separator(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or_default();
    let mut counts = [(b';', 0usize), (b',', 0), (b'\t', 0)];
    let mut quoted = false;
    for c in header.bytes() {
        if c == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(entry) = counts.iter_mut().find(|(sep, _)| *sep == c) {
            entry.1 += 1;
        }
    }
    counts.iter().max_by_key(|(_, n)| *n).map_or(b';', |(sep, _)| *sep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_encodings_federations_export() {
        assert_eq!(decode("\u{feff}Prénom".as_bytes()), ("Prénom".to_owned(), Encoding::Utf8));
        assert_eq!(decode(b"Pr\xe9nom \x80 \x9c"), ("Prénom € œ".to_owned(), Encoding::Windows1252));
    }

    #[test]
    fn finds_the_separator() {
        assert_eq!(detect_separator("a;b;c\n1,5;2;3"), b';');
        assert_eq!(detect_separator("\"Nom; complet\",b,c"), b',');
        assert_eq!(detect_separator("a\tb\tc"), b'\t');
    }
}
