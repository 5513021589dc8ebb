//! Recording completed homeserver actions many to a transaction. The room queues hand each
//! action they completed to one recorder and go on; it writes whatever has come in one fenced
//! transaction (`ProvisioningStore::complete`), so a first import's ~100,000 homeserver writes
//! are not as many store transactions.
//!
//! What a kill -9 can do is unchanged in kind: an action the homeserver did but the store did
//! not record stays pending and is done again by the next run, which every homeserver effect
//! allows (a room found again by its alias, "already invited" and "already gone" are success).
//! The window is wider — the actions of the batch being written rather than one per queue —
//! and the phases of an apply still end with everything recorded: [`Recorder::finish`] waits
//! for it.

use tokio::{sync::mpsc, task::JoinHandle};

use relais_core::{StoreError, store::lease::Fence};

use crate::store::{AuditEntry, Effect, ProvisioningStore};

/// Actions written per transaction at most.
const BATCH: usize = 500;

/// One completed action: run, sequence, effect on the record, audit line.
pub(super) type Done = (i64, i64, Option<Effect>, AuditEntry);

pub(super) struct Recorder {
    sender: mpsc::Sender<Done>,
    task: JoinHandle<Result<(), StoreError>>,
}

impl Recorder {
    pub(super) fn start(records: ProvisioningStore, fence: Fence) -> Self {
        let (sender, mut receiver) = mpsc::channel::<Done>(4 * BATCH);
        let task = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while receiver.recv_many(&mut batch, BATCH).await > 0 {
                records.complete(&fence, &batch).await?;
                batch.clear();
            }
            Ok(())
        });
        Self { sender, task }
    }

    /// Where a queue hands its completed actions over (a send waits only while the recorder is
    /// far behind, and fails once it stopped: [`Recorder::finish`] says why).
    pub(super) fn sender(&self) -> mpsc::Sender<Done> {
        self.sender.clone()
    }

    /// Waits until everything handed over is recorded (every sender dropped: the queues ended).
    pub(super) async fn finish(self) -> Result<(), StoreError> {
        drop(self.sender);
        match self.task.await {
            Ok(result) => result,
            Err(e) => {
                Err(StoreError::Io(format!("the provisioning recorder {}", relais_core::panic::task_end(&e))))
            }
        }
    }
}
