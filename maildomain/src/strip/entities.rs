//! HTML character references: named ones mail clients write, `&#NNN;` and `&#xHH;` (with
//! Windows-1252's meaning in 0x80-0x9F, as Outlook writes them).

use super::count;

/// Named entities decoded (those mail clients write in French and English text).
const NAMED_ENTITIES: &[(&str, char)] = &[
    ("nbsp", '\u{a0}'),
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("eacute", 'é'),
    ("Eacute", 'É'),
    ("egrave", 'è'),
    ("Egrave", 'È'),
    ("ecirc", 'ê'),
    ("Ecirc", 'Ê'),
    ("euml", 'ë'),
    ("agrave", 'à'),
    ("Agrave", 'À'),
    ("acirc", 'â'),
    ("Acirc", 'Â'),
    ("ccedil", 'ç'),
    ("Ccedil", 'Ç'),
    ("icirc", 'î'),
    ("iuml", 'ï'),
    ("ocirc", 'ô'),
    ("Ocirc", 'Ô'),
    ("ugrave", 'ù'),
    ("ucirc", 'û'),
    ("uuml", 'ü'),
    ("oelig", 'œ'),
    ("OElig", 'Œ'),
    ("laquo", '«'),
    ("raquo", '»'),
    ("lsquo", '‘'),
    ("rsquo", '’'),
    ("ldquo", '“'),
    ("rdquo", '”'),
    ("hellip", '…'),
    ("ndash", '–'),
    ("mdash", '—'),
    ("euro", '€'),
    ("deg", '°'),
    ("copy", '©'),
    ("reg", '®'),
    ("middot", '·'),
    ("bull", '•'),
    ("thinsp", '\u{2009}'),
    ("ensp", '\u{2002}'),
    ("emsp", '\u{2003}'),
    ("zwnj", '\u{200c}'),
    ("zwj", '\u{200d}'),
    ("shy", '\u{ad}'),
];

/// Characters 0x80-0x9F of Windows-1252, which `&#NNN;` in Outlook's HTML means in that range
/// (the HTML standard's table; kept here rather than taken from encoding_rs because the strip
/// module uses only the standard library: scripts/bench-strip.sh builds it with rustc alone).
const WINDOWS_1252: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}', '\u{90}',
    '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
];

/// The longest entity name looked for (`&#x10FFFF;`, `&thinsp;`…), without `&` and `;`.
const MAX_ENTITY: usize = 10;

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
        // An entity name is short: the `;` is looked for in the next few bytes only.
        let window = &after.as_bytes()[..after.len().min(MAX_ENTITY + 1)];
        count(window.len());
        let semicolon = window.iter().position(|&b| b == b';');
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
        return NAMED_ENTITIES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c);
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
