//! A fresh database on the test PostgreSQL server (`RELAIS_TEST_POSTGRES_URL`), owned by one
//! test: dropped at the end, whoever is still connected.

use std::process::Command;

pub struct Database {
    admin: String,
    pub name: String,
    /// Its URL, `postgres://…/name`.
    pub url: String,
}

impl Database {
    /// Creates `<prefix>_<random>`; `extra` is appended to `CREATE DATABASE` (e.g. the C
    /// collation Synapse asks for).
    pub fn create(prefix: &str, extra: &str) -> Self {
        let admin = std::env::var("RELAIS_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let name = format!("{prefix}_{:016x}", rand::random::<u64>());
        let created = Command::new("psql")
            .arg(&admin)
            .args(["-qc", &format!("CREATE DATABASE {name} {extra}")])
            .status();
        assert!(created.expect("psql").success(), "PostgreSQL must run for this test ({admin})");
        let (server, _) = admin.rsplit_once('/').expect("a database URL");
        let url = format!("{server}/{name}");
        Self { admin, name, url }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = Command::new("psql").arg(&self.admin).args(["-qc", &drop]).status();
    }
}
