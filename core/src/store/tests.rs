//! Store tests of core itself: the schema.

use super::testing::on_both;

#[tokio::test]
async fn migrations_apply_twice_and_health_pings() {
    on_both(|store| async move {
        store.migrate().await.expect("second migrate is a no-op");
        store.ping().await.expect("ping");
    })
    .await;
}

/// A released migration never changes: a deployed database recorded its checksum, and sqlx
/// refuses to start on one that differs. `core/migrations/checksums.txt` lists them; a new
/// migration is added to it in the same commit.
#[test]
fn released_migrations_keep_their_checksums() {
    use std::collections::BTreeMap;

    use super::{Backend, migrator};

    let released: BTreeMap<(String, i64), String> = include_str!("../../migrations/checksums.txt")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [dialect, version, checksum] = fields[..] else { panic!("bad line: {line}") };
            ((dialect.to_owned(), version.parse().expect("version")), checksum.to_owned())
        })
        .collect();
    let built: BTreeMap<(String, i64), String> =
        [(Backend::Sqlite, "sqlite"), (Backend::Postgres, "postgres")]
            .into_iter()
            .flat_map(|(backend, dialect)| {
                migrator(backend).iter().map(move |m| {
                    let hex: String = m.checksum.iter().map(|b| format!("{b:02x}")).collect();
                    ((dialect.to_owned(), m.version), hex)
                })
            })
            .collect();
    assert_eq!(built.len(), released.len(), "every migration is listed in checksums.txt, and only those");
    for (key, checksum) in &released {
        assert_eq!(built.get(key), Some(checksum), "migration {key:?} changed after its release");
    }
}
