//! Which column holds what: headers matched case-, accent- and space-insensitively.

use crate::text::header_key;

/// A field Relais reads from the membership file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    MemberId,
    FirstName,
    LastName,
    Email,
    Federation,
    Section,
    Cell,
    Roles,
    Active,
    MatrixId,
    Contact,
}

/// Accepted headers, folded (see [`header_key`]), and how to name the field in errors.
const ALIASES: &[(Field, &[&str], &str)] = &[
    (
        Field::MemberId,
        &["nadherent", "numeroadherent", "noadherent", "numadherent", "id", "memberid", "adherent"],
        "N° adhérent",
    ),
    (Field::FirstName, &["prenom", "firstname"], "Prénom"),
    (Field::LastName, &["nom", "lastname", "nomdefamille"], "Nom"),
    (
        Field::Email,
        &["courriel", "email", "mail", "adressecourriel", "adressemail", "adresseemail"],
        "Courriel",
    ),
    (Field::Federation, &["federation"], "Fédération"),
    (Field::Section, &["section"], "Section"),
    (Field::Cell, &["cellule", "cell"], "Cellule"),
    (Field::Roles, &["responsabilites", "responsabilite", "roles", "role"], "Responsabilités"),
    (Field::Active, &["cotisationajour", "active", "actif", "ajourdecotisation"], "Cotisation à jour"),
    (Field::MatrixId, &["identifiantmatrix", "matrixid", "matrix"], "Identifiant Matrix"),
    (Field::Contact, &["preferencedecontact", "preferencecontact", "contact"], "Préférence de contact"),
];

/// Column index of each field found in the header; other columns are ignored and never stored.
#[derive(Debug, Default)]
pub struct Columns {
    found: Vec<(Field, usize)>,
    /// Headers Relais does not read (phone, address, …), for the report.
    pub ignored: Vec<String>,
}

/// What is wrong with the header row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("colonne obligatoire absente : « {0} » (en-têtes acceptés : {1})")]
    Missing(&'static str, String),
    #[error("la colonne « {0} » apparaît deux fois")]
    Duplicate(String),
}

impl Columns {
    pub fn from_header<'a>(headers: impl Iterator<Item = &'a str>) -> Result<Self, HeaderError> {
        let mut columns = Self::default();
        for (index, header) in headers.enumerate() {
            let key = header_key(header);
            match ALIASES.iter().find(|(_, aliases, _)| aliases.contains(&key.as_str())) {
                Some((field, _, _)) if columns.index(*field).is_some() => {
                    return Err(HeaderError::Duplicate(header.trim().to_owned()));
                }
                Some((field, _, _)) => columns.found.push((*field, index)),
                None if !key.is_empty() => columns.ignored.push(header.trim().to_owned()),
                None => {}
            }
        }
        for required in [Field::MemberId, Field::Federation] {
            if columns.index(required).is_none() {
                let (_, aliases, name) =
                    ALIASES.iter().find(|(f, _, _)| *f == required).expect("every field has aliases");
                return Err(HeaderError::Missing(name, aliases.join(", ")));
            }
        }
        Ok(columns)
    }

    /// The fields found, by the name referents know them under ("Identifiant Matrix"), in the
    /// order of [`ALIASES`].
    pub fn found_names(&self) -> Vec<&'static str> {
        ALIASES
            .iter()
            .filter(|(field, _, _)| self.index(*field).is_some())
            .map(|(_, _, name)| *name)
            .collect()
    }

    pub fn index(&self, field: Field) -> Option<usize> {
        self.found.iter().find(|(f, _)| *f == field).map(|(_, i)| *i)
    }
}
