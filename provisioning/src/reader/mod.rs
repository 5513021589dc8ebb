//! The membership file reader: lenient with how the file is written, strict with what it says.
//!
//! A bad row is reported with its line and reason and is not applied; the member it names keeps
//! the state they had ([`ReadReport::frozen_ids`]), so a typo never removes anybody.

mod columns;
mod decode;
mod fields;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

pub use columns::HeaderError;
use columns::{Columns, Field};
pub use decode::Encoding;

use crate::{
    model::{Contact, MemberRow, RowError},
    text::{slug, tidy},
};

/// What reading a file produced.
#[derive(Debug, Clone, Serialize)]
pub struct ReadReport {
    pub rows: Vec<MemberRow>,
    pub errors: Vec<RowError>,
    /// Member ids named by a bad row: their recorded state must not change.
    pub frozen_ids: BTreeSet<String>,
    pub encoding: Encoding,
    pub separator: char,
    /// Columns present in the file that Relais does not read and never stores.
    pub ignored_columns: Vec<String>,
    /// The columns Relais reads that the file has ("Identifiant Matrix", …): a column the
    /// previous import had and this one lacks would empty that field for every member.
    pub columns: Vec<&'static str>,
}

/// Why the file as a whole cannot be read; nothing is applied.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("le fichier est vide")]
    Empty,
    #[error("en-tête du fichier : {0}")]
    Header(#[from] HeaderError),
    #[error("fichier CSV illisible : {0}")]
    Csv(String),
}

/// Reads a membership file.
pub fn read(bytes: &[u8]) -> Result<ReadReport, FileError> {
    let (text, encoding) = decode::decode(bytes);
    // One line ending, so the reported line numbers match what an editor shows.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    if text.trim().is_empty() {
        return Err(FileError::Empty);
    }
    let separator = decode::detect_separator(&text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| FileError::Csv(e.to_string()))?.clone();
    let columns = Columns::from_header(headers.iter())?;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut frozen_ids = BTreeSet::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                errors.push(RowError { line, message: format!("ligne illisible : {e}") });
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        let cell = |field| columns.index(field).and_then(|i| record.get(i)).unwrap_or("");
        let id = cell(Field::MemberId).trim();
        if !id.is_empty() {
            *seen.entry(id.to_owned()).or_default() += 1;
        }
        match row(line, &cell) {
            Ok(row) => rows.push(row),
            Err(message) => {
                let id = cell(Field::MemberId).trim();
                if !id.is_empty() {
                    frozen_ids.insert(id.to_owned());
                }
                errors.push(RowError { line, message });
            }
        }
    }
    reject_duplicates(&mut rows, &mut errors, &mut frozen_ids, &seen);
    errors.sort_by_key(|e| e.line);
    Ok(ReadReport {
        rows,
        errors,
        frozen_ids,
        encoding,
        separator: char::from(separator),
        columns: columns.found_names(),
        ignored_columns: columns.ignored,
    })
}

fn optional(value: &str) -> Option<String> {
    let value = tidy(value);
    (!value.is_empty()).then_some(value)
}

fn row<'a>(line: u64, cell: &impl Fn(Field) -> &'a str) -> Result<MemberRow, String> {
    let member_id = cell(Field::MemberId).trim().to_owned();
    if member_id.is_empty() {
        return Err("numéro d'adhérent manquant".into());
    }
    if member_id.contains(':') {
        return Err(format!("numéro d'adhérent invalide (« : » n'y a pas sa place) : {member_id}"));
    }
    let federation = tidy(cell(Field::Federation));
    if federation.is_empty() {
        return Err("fédération manquante".into());
    }
    let section = optional(cell(Field::Section));
    let cell_name = optional(cell(Field::Cell));
    for name in [Some(&federation), section.as_ref(), cell_name.as_ref()].into_iter().flatten() {
        if slug(name).is_empty() {
            return Err(format!("nom inutilisable : « {name} » (il faut au moins une lettre ou un chiffre)"));
        }
    }
    let matrix_id = fields::matrix_id(cell(Field::MatrixId))?;
    let contact = fields::contact(cell(Field::Contact))?;
    let email = match fields::email(cell(Field::Email)) {
        Ok(email) => email,
        // An address nobody will write to is not worth refusing the row for.
        Err(_) if contact == Contact::Chat && matrix_id.is_some() => None,
        Err(_) if contact == Contact::None => None,
        Err(message) => return Err(message),
    };
    Ok(MemberRow {
        line,
        member_id,
        first_name: tidy(cell(Field::FirstName)),
        last_name: tidy(cell(Field::LastName)),
        email,
        federation,
        section,
        cell: cell_name,
        roles: fields::roles(cell(Field::Roles)),
        active: fields::active(cell(Field::Active))?,
        matrix_id,
        contact,
    })
}

/// Every row of a member id that appears more than once is an error, the good ones included.
fn reject_duplicates(
    rows: &mut Vec<MemberRow>,
    errors: &mut Vec<RowError>,
    frozen: &mut BTreeSet<String>,
    seen: &BTreeMap<String, usize>,
) {
    let dup: BTreeSet<&String> = seen.iter().filter(|(_, n)| **n > 1).map(|(id, _)| id).collect();
    rows.retain(|r| {
        if dup.contains(&r.member_id) {
            errors.push(RowError {
                line: r.line,
                message: format!("numéro d'adhérent en double : {}", r.member_id),
            });
            false
        } else {
            true
        }
    });
    frozen.extend(dup.into_iter().cloned());
}

#[cfg(test)]
mod tests;
