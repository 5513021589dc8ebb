//! Congress mode's mandates file: each delegate's number of mandates and the proxies absent
//! delegates gave, read and checked line by line; and the weight each voter carries. Pure.
//!
//! The file (`;` or `,`), headers in any order: `N° adhérent`, `Mandats`, and optionally
//! `Procuration de` — the member ids of absent delegates whose mandates this delegate carries
//! (separated by spaces, `+` or `/`).

use std::collections::{HashMap, HashSet};

use relais_core::text::fold;

/// A mandates file that passed every check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mandates {
    /// (member id, mandates).
    pub mandates: Vec<(String, i64)>,
    /// (absent member id, holder member id).
    pub proxies: Vec<(String, String)>,
}

/// A line that cannot be used, and why (in French: the federation reads it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

fn column(headers: &[String], names: &[&str]) -> Option<usize> {
    headers.iter().position(|h| names.contains(&h.as_str()))
}

/// Reads `text`; every error is reported by line (the header is line 1), nothing is half-read.
pub fn parse(text: &str, known: &HashSet<String>, max_proxies: usize) -> Result<Mandates, Vec<LineError>> {
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(vec![LineError { line: 1, message: "fichier vide".into() }]);
    };
    let sep = if header.contains(';') { ';' } else { ',' };
    let headers: Vec<String> =
        header.split(sep).map(|h| fold(h.trim().trim_matches('"')).replace(' ', "")).collect();
    let id_col = column(&headers, &["n°adherent", "noadherent", "numeroadherent", "memberid", "adherent"]);
    let weight_col = column(&headers, &["mandats", "mandates", "mandat"]);
    let proxy_col = column(&headers, &["procurationde", "proxyfor", "procuration"]);
    let (Some(id_col), Some(weight_col)) = (id_col, weight_col) else {
        let message = "colonnes « N° adhérent » et « Mandats » attendues en première ligne".into();
        return Err(vec![LineError { line: 1, message }]);
    };
    let mut errors = Vec::new();
    let mut out = Mandates::default();
    let mut seen = HashSet::new();
    for (index, line) in lines {
        let n = index + 1;
        let cells: Vec<&str> = line.split(sep).map(|c| c.trim().trim_matches('"').trim()).collect();
        let mut fail = |message: String| errors.push(LineError { line: n, message });
        let id = cells.get(id_col).copied().unwrap_or_default();
        if !known.contains(id) {
            fail(format!("adhérent « {id} » absent du fichier des adhérents"));
            continue;
        }
        if !seen.insert(id.to_owned()) {
            fail(format!("adhérent « {id} » en double"));
            continue;
        }
        match cells.get(weight_col).and_then(|w| w.parse::<i64>().ok()).filter(|w| (0..=10_000).contains(w)) {
            Some(weight) => out.mandates.push((id.to_owned(), weight)),
            None => fail("« Mandats » doit être un nombre entier de 0 à 10 000".into()),
        }
        // Several absent delegates may be named, separated by spaces, `+` or `/`.
        let absents = proxy_col.and_then(|c| cells.get(c)).copied().unwrap_or_default();
        for absent in absents.split([' ', '+', '/']).filter(|a| !a.is_empty()) {
            out.proxies.push((absent.to_owned(), id.to_owned()));
        }
    }
    check_proxies(&out, max_proxies, &mut errors);
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// Proxies name delegates of the file, each absent delegate once, no chain, at most
/// `max_proxies` per holder. Errors name the holder's line by member id.
fn check_proxies(file: &Mandates, max_proxies: usize, errors: &mut Vec<LineError>) {
    let delegates: HashSet<&str> = file.mandates.iter().map(|(id, _)| id.as_str()).collect();
    let absents: HashSet<&str> = file.proxies.iter().map(|(a, _)| a.as_str()).collect();
    let mut given = HashSet::new();
    let mut carried: HashMap<&str, usize> = HashMap::new();
    for (absent, holder) in &file.proxies {
        let mut fail = |message: String| errors.push(LineError { line: 0, message });
        if !delegates.contains(absent.as_str()) {
            fail(format!(
                "procuration de « {absent} » (portée par {holder}) : cet adhérent n'a pas de ligne de mandats"
            ));
        } else if absent == holder {
            fail(format!("{holder} ne peut pas se donner procuration à soi-même"));
        } else if !given.insert(absent.as_str()) {
            fail(format!("« {absent} » a donné plusieurs procurations"));
        } else if absents.contains(holder.as_str()) {
            fail(format!("{holder} a donné procuration : il ne peut pas en porter une ({absent})"));
        }
        let count = carried.entry(holder).or_default();
        *count += 1;
        if *count == max_proxies + 1 {
            fail(format!("{holder} porte plus de {max_proxies} procuration(s)"));
        }
    }
}

/// The weight each of `users` (Matrix id → member id) carries: their mandates plus those of the
/// absent delegates they hold a proxy for. Delegates who gave a proxy, and members without
/// mandates, do not vote.
pub fn weights(users: &[(String, String)], file: &Mandates) -> Vec<(String, i64)> {
    let mandate: HashMap<&str, i64> = file.mandates.iter().map(|(id, w)| (id.as_str(), *w)).collect();
    let absent: HashSet<&str> = file.proxies.iter().map(|(a, _)| a.as_str()).collect();
    users
        .iter()
        .filter(|(_, member)| !absent.contains(member.as_str()))
        .map(|(user, member)| {
            let carried: i64 = file
                .proxies
                .iter()
                .filter(|(_, holder)| holder == member)
                .map(|(a, _)| mandate.get(a.as_str()).copied().unwrap_or(0))
                .sum();
            (user.clone(), mandate.get(member.as_str()).copied().unwrap_or(0) + carried)
        })
        .filter(|(_, w)| *w > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> HashSet<String> {
        ["1", "2", "3", "4", "5"].iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn mandates_and_proxies_are_read_and_weighted() {
        let file =
            parse("N° adhérent;Mandats;Procuration de\n1;3;\n2;2;3\n3;1;\n", &known(), 2).expect("valid");
        assert_eq!(file.mandates, [("1".into(), 3), ("2".into(), 2), ("3".into(), 1)]);
        assert_eq!(file.proxies, [("3".to_owned(), "2".to_owned())]);
        let users = [
            ("@paul".to_owned(), "1".to_owned()),
            ("@sophie".into(), "2".into()),
            ("@karim".into(), "3".into()),
            ("@luc".into(), "5".into()),
        ];
        assert_eq!(weights(&users, &file), [("@paul".to_owned(), 3), ("@sophie".to_owned(), 3)]);
    }

    #[test]
    fn every_bad_line_is_reported() {
        let text = "Mandats,N° adhérent,Procuration de\nbeaucoup,1,\n2,9,\n1,2,\n1,2,\n";
        let errors = parse(text, &known(), 2).expect_err("invalid");
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 5], "{errors:?}");
        assert!(errors[1].message.contains("« 9 » absent"));
        assert!(errors[2].message.contains("en double"));
        assert!(parse("Nom;Prénom\n", &known(), 2).expect_err("headers")[0].message.contains("Mandats"));
    }

    #[test]
    fn proxies_are_capped_and_never_chained() {
        let two = "N° adhérent;Mandats;Procuration de\n1;1;2 3\n2;1;\n3;1;\n";
        assert_eq!(parse(two, &known(), 2).expect("two allowed").proxies.len(), 2);
        let errors = parse(two, &known(), 1).expect_err("one allowed");
        assert!(errors.iter().any(|e| e.message.contains("plus de 1 procuration")), "{errors:?}");
        let many = "N° adhérent;Mandats;Procuration de\n1;1;\n2;1;1\n3;1;1\n";
        let errors = parse(many, &known(), 2).expect_err("1 gave twice");
        assert!(errors.iter().any(|e| e.message.contains("plusieurs procurations")), "{errors:?}");
        let chain = "N° adhérent;Mandats;Procuration de\n1;1;2\n2;1;3\n3;1;\n";
        let errors = parse(chain, &known(), 2).expect_err("chain");
        assert!(errors.iter().any(|e| e.message.contains("ne peut pas en porter")), "{errors:?}");
        let unknown = "N° adhérent;Mandats;Procuration de\n1;1;4\n";
        let errors = parse(unknown, &known(), 2).expect_err("4 has no line");
        assert!(errors[0].message.contains("pas de ligne de mandats"), "{errors:?}");
    }
}
