//! Text folding shared by header matching and name keys.

pub use relais_core::text::{fold, slug};

/// Header key: folded, letters and digits only (`N° adhérent` → `nadherent`).
pub fn header_key(s: &str) -> String {
    fold(s).chars().filter(char::is_ascii_alphanumeric).collect()
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
