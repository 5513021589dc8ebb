//! Synthetic membership files for benchmarks: deterministic, realistic shape, invented people.

use std::fmt::Write;

/// The size of a synthetic party.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub members: usize,
    pub federations: usize,
    pub sections: usize,
    pub cells: usize,
}

impl Shape {
    /// The national scale the benchmarks target.
    pub const NATIONAL: Self = Self { members: 50_000, federations: 100, sections: 1_000, cells: 3_000 };
}

/// A membership file of `shape`, as a federation's software exports it (French headers, `;`,
/// columns Relais ignores included). Every 10th member has lapsed; 1 in 5 has no Matrix account.
pub fn membership_file(shape: Shape, server_name: &str) -> String {
    let federations = shape.federations.max(1);
    let sections_per_fed = (shape.sections / federations).max(1);
    let cells_per_section = (shape.cells / shape.sections.max(1)).max(1);
    let mut out = String::with_capacity(shape.members * 160);
    out.push_str("N° adhérent;Civilité;Prénom;Nom;Courriel;Téléphone;Adresse;Fédération;Section;Cellule;Responsabilités;Cotisation à jour;Identifiant Matrix;Préférence de contact\n");
    for i in 0..shape.members {
        let fed = i % federations;
        let section = (i / federations) % sections_per_fed;
        let cell = (i / (federations * sections_per_fed)) % (cells_per_section + 1);
        let roles = match i / federations {
            0 => "Secrétaire fédéral",
            1 => "Référent numérique",
            n if n < 2 + sections_per_fed && n - 2 == section => "Secrétaire de section",
            _ => "",
        };
        let active = if i % 10 == 9 { "non" } else { "oui" };
        let (matrix, contact) = match i % 5 {
            0 => (String::new(), "courriel"),
            1 => (format!("@m{i:06}:{server_name}"), "courriel"),
            _ => (format!("@m{i:06}:{server_name}"), "messagerie"),
        };
        let cell_name = if cell < cells_per_section { format!("Cellule {cell}") } else { String::new() };
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{i:06};M.;Prénom{i};Nom{i};m{i}@example.org;06{i:08};{i} rue de la Paix;Fédération {fed};Section {fed}-{section};{cell_name};{roles};{active};{matrix};{contact}"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::read;

    #[test]
    fn generates_a_valid_file_of_the_requested_shape() {
        let shape = Shape { members: 2_000, federations: 10, sections: 100, cells: 300 };
        let report = read(membership_file(shape, "pcf.test").as_bytes()).expect("reads");
        assert!(report.errors.is_empty(), "{:?}", &report.errors[..3.min(report.errors.len())]);
        assert_eq!(report.rows.len(), 2_000);
        let feds: std::collections::BTreeSet<&str> =
            report.rows.iter().map(|r| r.federation.as_str()).collect();
        assert_eq!(feds.len(), 10);
        let sections: std::collections::BTreeSet<_> =
            report.rows.iter().filter_map(|r| r.section.as_ref()).collect();
        assert_eq!(sections.len(), 100);
    }
}
