//! A federation's own export: only its members may change. Which federation a member belongs to
//! is what Relais recorded, never what the uploaded row says, so a federation's file cannot move,
//! re-address or take the account of another federation's member.

use std::collections::BTreeMap;

use crate::{
    desired::federation_key,
    model::{MemberRow, RowError},
    plan::Recorded,
    reader::ReadReport,
};

/// Narrows a file to the export of `federation`. A row is set apart (reported with its line, in
/// French, and its member's recorded state frozen) when it names another federation, when its
/// member is recorded in another federation, or when its Matrix id is the account of a member
/// recorded in another federation.
pub fn scope_report(mut report: ReadReport, federation: &str, recorded: &Recorded) -> ReadReport {
    let key = federation_key(federation);
    let accounts: BTreeMap<&str, &MemberRow> = recorded
        .members
        .values()
        .filter_map(|m| Some((m.matrix_id.as_deref()?.as_str(), m)))
        .chain(
            recorded.linked.iter().filter_map(|(id, user)| Some((user.as_str(), recorded.members.get(id)?))),
        )
        .collect();
    let mut inside = Vec::with_capacity(report.rows.len());
    for row in std::mem::take(&mut report.rows) {
        let outsider = |m: &MemberRow| federation_key(&m.federation) != key;
        let why = if federation_key(&row.federation) != key {
            Some(format!(
                "adhérent d'une autre fédération ({}) : ligne ignorée dans l'import de la fédération {federation}",
                row.federation
            ))
        } else if let Some(on_record) = recorded.members.get(&row.member_id).filter(|m| outsider(m)) {
            Some(format!(
                "adhérent enregistré dans la fédération {} : seul l'import national peut le changer de \
                 fédération ; ligne ignorée, l'adhérent garde sa situation",
                on_record.federation
            ))
        } else {
            row.matrix_id
                .as_ref()
                .and_then(|user| accounts.get(user.as_str()))
                .filter(|owner| owner.member_id != row.member_id && outsider(owner))
                .map(|owner| {
                    format!(
                        "l'identifiant Matrix {} est celui d'un adhérent de la fédération {} : ligne ignorée",
                        row.matrix_id.as_deref().map(|u| u.as_str()).unwrap_or_default(),
                        owner.federation
                    )
                })
        };
        match why {
            Some(message) => {
                report.errors.push(RowError { line: row.line, message });
                report.frozen_ids.insert(row.member_id);
            }
            None => inside.push(row),
        }
    }
    report.errors.sort_by_key(|e| e.line);
    report.rows = inside;
    report
}
