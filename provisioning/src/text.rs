//! Text folding shared by header matching and name keys.

/// Lower-case ASCII approximation: accents removed, ligatures expanded.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'â' | 'ä' | 'á' | 'ã' | 'å' => out.push('a'),
            'é' | 'è' | 'ê' | 'ë' => out.push('e'),
            'î' | 'ï' | 'í' | 'ì' => out.push('i'),
            'ô' | 'ö' | 'ó' | 'ò' | 'õ' => out.push('o'),
            'ù' | 'û' | 'ü' | 'ú' => out.push('u'),
            'ÿ' | 'ý' => out.push('y'),
            'ç' => out.push('c'),
            'ñ' => out.push('n'),
            'œ' => out.push_str("oe"),
            'æ' => out.push_str("ae"),
            _ => out.push(c),
        }
    }
    out
}

/// Header key: folded, letters and digits only (`N° adhérent` → `nadherent`).
pub fn header_key(s: &str) -> String {
    fold(s).chars().filter(char::is_ascii_alphanumeric).collect()
}

/// Name key and alias fragment: folded, runs of anything else than letters and digits become
/// one `-` (` Paris 11e ` → `paris-11e`, `Île-de-France` → `ile-de-france`).
pub fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in fold(s).chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Trims and collapses inner whitespace, keeping the text as written otherwise.
pub fn tidy(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_headers_and_names() {
        assert_eq!(header_key("N° adhérent"), "nadherent");
        assert_eq!(header_key(" Cotisation à jour "), "cotisationajour");
        assert_eq!(header_key("member_id"), "memberid");
        assert_eq!(slug(" nord "), "nord");
        assert_eq!(slug("Île-de-France"), "ile-de-france");
        assert_eq!(slug("Paris  11e"), slug("paris-11E"));
        assert_eq!(slug("Cœur d'Hérault"), "coeur-d-herault");
        assert_eq!(slug("***"), "");
        assert_eq!(tidy("  Lille   Centre "), "Lille Centre");
    }
}
