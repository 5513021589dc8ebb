//! The local journal of accepted deliveries.
//!
//! SMTP has no two-phase commit: between the server's 250 and the database recording the
//! delivery, a killed worker leaves a mail that was sent but looks unsent, and its successor
//! would send it again. The journal closes that window: the delivery's id is appended to a local
//! file (one `write`, no buffering — it survives the process being killed, though not the machine
//! losing power) the moment the server accepts the mail, and a worker starting on this machine
//! first records every journaled id as sent. A worker on another machine taking over a dead
//! worker's leases does not see its journal: then, and only then, a mail in flight at the crash
//! may go twice (with the same Message-ID).

use std::{
    fs::{File, OpenOptions},
    io::{Read, Seek, Write},
    path::{Path, PathBuf},
    sync::Mutex,
};

use relais_core::store::StoreError;

use crate::store::MailStore;

#[derive(Debug)]
pub struct SentJournal {
    path: PathBuf,
    file: Mutex<File>,
}

impl SentJournal {
    /// Opens (or creates) the journal at `path`.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).read(true).append(true).open(path)?;
        Ok(Self { path: path.to_owned(), file: Mutex::new(file) })
    }

    /// Notes that the SMTP server accepted delivery `id`.
    pub fn append(&self, id: i64) -> std::io::Result<()> {
        let mut file = self.file.lock().map_err(|_| std::io::Error::other("journal lock poisoned"))?;
        file.write_all(format!("{id}\n").as_bytes())
    }

    fn take_ids(&self) -> std::io::Result<Vec<i64>> {
        let mut file = self.file.lock().map_err(|_| std::io::Error::other("journal lock poisoned"))?;
        let mut text = String::new();
        file.rewind()?;
        file.read_to_string(&mut text)?;
        Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    fn clear(&self) -> std::io::Result<()> {
        let file = self.file.lock().map_err(|_| std::io::Error::other("journal lock poisoned"))?;
        file.set_len(0)
    }

    /// Records every journaled delivery as sent, then empties the journal. Returns how many
    /// deliveries were still unrecorded (each one a duplicate avoided).
    pub async fn reconcile(&self, store: &MailStore) -> Result<u64, StoreError> {
        let ids = self.take_ids().map_err(|e| {
            tracing::warn!(error = %e, path = %self.path.display(), "cannot read the mail journal");
            StoreError::Io(e.to_string())
        })?;
        let mut recovered = 0;
        for id in ids {
            if store.outbox_mark_sent(id).await? {
                recovered += 1;
            }
        }
        if let Err(e) = self.clear() {
            tracing::warn!(error = %e, "cannot empty the mail journal");
        }
        Ok(recovered)
    }
}

#[cfg(test)]
mod tests {
    use super::SentJournal;

    #[test]
    fn ids_survive_in_the_file() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("sent.journal");
        let journal = SentJournal::open(&path).expect("open");
        journal.append(7).expect("append");
        journal.append(9).expect("append");
        drop(journal);
        let again = SentJournal::open(&path).expect("reopen");
        assert_eq!(again.take_ids().expect("read"), [7, 9]);
        again.clear().expect("clear");
        assert!(again.take_ids().expect("read").is_empty());
    }
}
