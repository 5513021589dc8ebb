//! HTML character references: the named ones of the HTML standard (mail-parser's table),
//! `&#NNN;` and `&#xHH;` (with Windows-1252's meaning in 0x80-0x9F, as Outlook writes them).

use mail_parser::decoders::html::add_html_token;

use super::count;

/// Characters 0x80-0x9F of Windows-1252, which `&#NNN;` in Outlook's HTML means in that range
/// (the HTML standard's table, which differs from mail-parser's plain code points there).
const WINDOWS_1252: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}', '\u{90}',
    '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
];

/// The longest entity name looked for, without `&` and `;`: the standard's longest is
/// `CounterClockwiseContourIntegral` (31 bytes).
const MAX_ENTITY: usize = 32;

pub(super) fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        count(amp + 1);
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        // A reference is `#`, letters and digits, and `;`, within a few bytes: the scan stops at
        // the first byte that cannot be part of one.
        let window = &after.as_bytes()[..after.len().min(MAX_ENTITY + 1)];
        let name_len = window
            .iter()
            .enumerate()
            .take_while(|&(i, &b)| b.is_ascii_alphanumeric() || (i == 0 && b == b'#'))
            .count();
        count(name_len + 1);
        let semicolon = (window.get(name_len) == Some(&b';')).then_some(name_len);
        match semicolon.and_then(|e| entity(&after[..e]).map(|c| (c, e))) {
            Some((c, e)) => {
                out.push(c);
                rest = &after[e + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character an entity name (between `&` and `;`) stands for.
fn entity(name: &str) -> Option<char> {
    let Some(number) = name.strip_prefix('#') else {
        return named(name);
    };
    let code = match number.strip_prefix(['x', 'X']) {
        Some(hex) if hex.bytes().all(|b| b.is_ascii_hexdigit()) => u32::from_str_radix(hex, 16).ok()?,
        Some(_) => return None,
        None if number.bytes().all(|b| b.is_ascii_digit()) => number.parse().ok()?,
        None => return None,
    };
    Some(match code {
        0x80..=0x9f => WINDOWS_1252[(code - 0x80) as usize],
        _ => char::from_u32(code).filter(|c| *c != '\0').unwrap_or('\u{fffd}'),
    })
}

/// The character a named reference stands for, from mail-parser's copy of the standard's table
/// (single code points; the few names that stand for two are left as written).
fn named(name: &str) -> Option<char> {
    if name.is_empty() || name.len() > MAX_ENTITY || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let mut token = [0u8; MAX_ENTITY + 2];
    token[0] = b'&';
    token[1..=name.len()].copy_from_slice(name.as_bytes());
    token[name.len() + 1] = b';';
    let token = &token[..name.len() + 2];
    // The token is ASCII, so mail-parser's UTF-8 reading of an unknown name cannot fail; it then
    // writes the token back as it was, which is how an unknown name is told apart.
    let mut decoded = String::new();
    add_html_token(&mut decoded, token, false);
    let mut chars = decoded.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if decoded.as_bytes() != token => Some(c),
        _ => None,
    }
}
