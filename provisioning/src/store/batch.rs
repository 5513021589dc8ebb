//! Many rows in one statement: the first national import journals and completes ~300,000
//! actions, and one statement per row is one round trip per row on PostgreSQL. Each batch is
//! still written inside the caller's transaction (fenced by the provisioning lease), so what a
//! crash can leave is what it could before: a whole transaction or nothing.

use std::collections::HashSet;

use relais_core::store::Backend;
use sqlx::{Any, AssertSqlSafe, Row, Transaction, any::AnyArguments, query::Query};

use super::{AuditEntry, Effect, record::apply_effect};

/// Rows per statement on PostgreSQL, where each statement is a round trip: under its limit on
/// bound parameters (65,535) for the widest row written here (9 columns).
const ROWS: usize = 500;

/// Bound parameters per statement on SQLite, where a statement costs no round trip but its
/// binding grows with the square of its parameters: sqlx asks SQLite the name of each one,
/// which SQLite finds by a linear scan of them all. At 500 rows of 9, that scan was half of the
/// time recording a national import took (docs/benchmarks.md).
const SQLITE_PARAMETERS: usize = 256;

/// Rows of `columns` bound parameters per statement on `backend`.
fn rows(backend: Backend, columns: usize) -> usize {
    match backend {
        Backend::Postgres => ROWS,
        Backend::Sqlite => (SQLITE_PARAMETERS / columns.max(1)).max(1),
    }
}

/// `($1, $2, $3), ($4, $5, $6), …`: `rows` tuples of `columns` numbered parameters, after
/// `first - 1` parameters already bound.
fn tuples(rows: usize, columns: usize, first: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for column in 0..columns {
            if column > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(first + row * columns + column).to_string());
        }
        out.push(')');
    }
    out
}

/// Journals `actions` (room key, payload) of run `run_id`, numbered from 0.
pub(super) async fn insert_actions(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    run_id: i64,
    actions: &[(Option<String>, String)],
) -> Result<(), sqlx::Error> {
    let rows = rows(backend, 4);
    for (chunk_index, chunk) in actions.chunks(rows).enumerate() {
        let sql = format!(
            "INSERT INTO prov_action (run_id, seq, room_key, payload) VALUES {}",
            tuples(chunk.len(), 4, 1)
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (i, (room_key, payload)) in chunk.iter().enumerate() {
            let seq = i64::try_from(chunk_index * rows + i).unwrap_or(i64::MAX);
            query = query.bind(run_id).bind(seq).bind(room_key.as_deref()).bind(payload.as_str());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Marks the pending actions `seqs` of run `run_id` done (their payload erased: it may hold a
/// member's data); returns those that were pending, the others being done already.
pub(super) async fn mark_done(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    run_id: i64,
    seqs: &[i64],
    now: i64,
) -> Result<HashSet<i64>, sqlx::Error> {
    let mut marked = HashSet::with_capacity(seqs.len());
    for chunk in seqs.chunks(rows(backend, 1)) {
        let list = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "UPDATE prov_action SET state = 'done', done_at = $1, payload = '' \
             WHERE run_id = $2 AND state = 'pending' AND seq IN ({list}) RETURNING seq"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(now).bind(run_id);
        for seq in chunk {
            query = query.bind(*seq);
        }
        for row in query.fetch_all(&mut **tx).await? {
            marked.insert(row.try_get::<i64, _>("seq")?);
        }
    }
    Ok(marked)
}

/// Appends audit lines, in order.
pub(super) async fn insert_audits(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    entries: &[&AuditEntry],
) -> Result<(), sqlx::Error> {
    for chunk in entries.chunks(rows(backend, 5)) {
        let sql = format!(
            "INSERT INTO audit_log (at, actor, action, target, detail) VALUES {}",
            tuples(chunk.len(), 5, 1)
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for e in chunk {
            query = query
                .bind(e.at)
                .bind(e.actor.as_str())
                .bind(e.action.as_str())
                .bind(e.target.as_str())
                .bind(e.detail.as_str());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The effects written many to a statement: the bulk of an import (members, their access,
/// their subscriptions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bulk {
    Member,
    Grant,
    Subscribe,
}

impl Bulk {
    /// Bound parameters per row.
    fn columns(self) -> usize {
        match self {
            Self::Member => 9,
            Self::Grant => 3,
            Self::Subscribe => 2,
        }
    }
}

fn bulk(effect: &Effect) -> Option<(Bulk, (&str, &str))> {
    match effect {
        Effect::Member { member_id, .. } => Some((Bulk::Member, (member_id, ""))),
        Effect::Grant { room_key, member_id, .. } => Some((Bulk::Grant, (room_key, member_id))),
        Effect::Subscribe { room_key, member_id } => Some((Bulk::Subscribe, (room_key, member_id))),
        _ => None,
    }
}

/// Applies `effects` in order: a run of effects of one bulk kind on distinct rows goes in one
/// statement (an upsert may not touch a row twice), every other effect in its own.
pub(super) async fn apply_effects(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    effects: &[&Effect],
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut start = 0;
    while start < effects.len() {
        let Some((kind, key)) = bulk(effects[start]) else {
            apply_effect(tx, effects[start], now).await?;
            start += 1;
            continue;
        };
        let mut keys = HashSet::from([key]);
        let mut end = start + 1;
        let most = rows(backend, kind.columns());
        while end < effects.len() && end - start < most {
            match bulk(effects[end]) {
                Some((k, key)) if k == kind && keys.insert(key) => end += 1,
                _ => break,
            }
        }
        bulk_query(kind, &effects[start..end], now).execute(&mut **tx).await?;
        start = end;
    }
    Ok(())
}

/// The statement of one effect of a bulk kind (`kind` must be the effect's).
pub(super) fn one(kind: Bulk, effect: &Effect, now: i64) -> Query<'_, Any, AnyArguments> {
    bulk_query(kind, &[effect], now)
}

fn bulk_query<'q>(kind: Bulk, effects: &[&'q Effect], now: i64) -> Query<'q, Any, AnyArguments> {
    let n = effects.len();
    let sql = match kind {
        Bulk::Member => format!(
            "INSERT INTO prov_member (member_id, record, active, matrix_id, email, updated_at, federation_key, \
             section_key, cell_key) VALUES {} ON CONFLICT (member_id) DO UPDATE SET record = excluded.record, \
             active = excluded.active, matrix_id = excluded.matrix_id, email = excluded.email, \
             updated_at = excluded.updated_at, federation_key = excluded.federation_key, \
             section_key = excluded.section_key, cell_key = excluded.cell_key",
            tuples(n, Bulk::Member.columns(), 1)
        ),
        Bulk::Grant => format!(
            "INSERT INTO prov_access (room_key, member_id, user_id) VALUES {} \
             ON CONFLICT (room_key, member_id) DO UPDATE SET user_id = excluded.user_id",
            tuples(n, Bulk::Grant.columns(), 1)
        ),
        Bulk::Subscribe => format!(
            "INSERT INTO prov_subscription (room_key, member_id) VALUES {} ON CONFLICT (room_key, member_id) DO NOTHING",
            tuples(n, Bulk::Subscribe.columns(), 1)
        ),
    };
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for effect in effects {
        query = match effect {
            Effect::Member { member_id, record, active, matrix_id, email, rooms } => query
                .bind(member_id.as_str())
                .bind(record.as_str())
                .bind(i64::from(*active))
                .bind(matrix_id.as_deref())
                .bind(email.as_deref())
                .bind(now)
                .bind(rooms.federation.as_deref())
                .bind(rooms.section.as_deref())
                .bind(rooms.cell.as_deref()),
            Effect::Grant { room_key, member_id, user_id } => {
                query.bind(room_key.as_str()).bind(member_id.as_str()).bind(user_id.as_str())
            }
            Effect::Subscribe { room_key, member_id } => {
                query.bind(room_key.as_str()).bind(member_id.as_str())
            }
            // `bulk` groups only the three kinds above.
            _ => query,
        };
    }
    query
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_statements_stay_small_and_postgres_ones_large() {
        use relais_core::store::Backend;
        assert_eq!(super::rows(Backend::Sqlite, 9), 28);
        assert_eq!(super::rows(Backend::Sqlite, 1), 256);
        assert_eq!(super::rows(Backend::Sqlite, 1000), 1, "one row whatever its width");
        assert_eq!(super::rows(Backend::Postgres, 9), 500);
    }

    #[test]
    fn tuples_number_every_parameter_once() {
        assert_eq!(super::tuples(2, 3, 1), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::tuples(1, 2, 3), "($3, $4)");
    }
}
