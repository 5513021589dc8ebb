//! Submission to a local MTA over plain SMTP (`smtp://host:port`, no TLS, no login): the
//! deployment Relais recommends (Postfix on the same host). Sockets get `TCP_NODELAY`: lettre's
//! pooled transport writes the end-of-data dot separately, which Nagle's algorithm and the
//! server's delayed acknowledgement turn into a 40 ms stall per message.

use std::sync::Arc;

use lettre::{
    address::Envelope,
    transport::smtp::{client::AsyncSmtpConnection, extension::ClientId},
};
use tokio::sync::{Mutex, Semaphore};

use super::{MailError, smtp_error};

/// Up to `size` open sessions to `host:port`, reused across messages.
#[derive(Clone)]
pub(crate) struct LocalPool {
    addr: String,
    idle: Arc<Mutex<Vec<AsyncSmtpConnection>>>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for LocalPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalPool").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl LocalPool {
    /// The pool for `url` when it names a plain local submission, else `None`.
    pub(crate) fn for_url(url: &str, size: u32) -> Option<Self> {
        let rest = url.strip_prefix("smtp://")?;
        if rest.contains('@') || rest.contains('?') {
            return None;
        }
        let addr = rest.trim_end_matches('/');
        let addr = if addr.contains(':') { addr.to_owned() } else { format!("{addr}:25") };
        Some(Self { addr, idle: Arc::default(), permits: Arc::new(Semaphore::new(size.max(1) as usize)) })
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, MailError> {
        let stream =
            tokio::net::TcpStream::connect(&self.addr).await.map_err(|e| MailError::Send(e.to_string()))?;
        stream.set_nodelay(true).map_err(|e| MailError::Send(e.to_string()))?;
        AsyncSmtpConnection::connect_with_transport(Box::new(stream), &ClientId::default())
            .await
            .map_err(smtp_error)
    }

    /// Sends one message; a session the server closed meanwhile is replaced once.
    pub(crate) async fn send(&self, envelope: &Envelope, bytes: &[u8]) -> Result<(), MailError> {
        let _permit = self.permits.acquire().await.map_err(|e| MailError::Send(e.to_string()))?;
        let reused = self.idle.lock().await.pop();
        let mut conn = match reused {
            Some(conn) => conn,
            None => self.connect().await?,
        };
        let mut result = conn.send(envelope, bytes).await;
        if result.as_ref().is_err_and(|e| !e.is_permanent()) && conn.has_broken() {
            conn = self.connect().await?;
            result = conn.send(envelope, bytes).await;
        }
        match result {
            Ok(_) => {
                self.idle.lock().await.push(conn);
                Ok(())
            }
            Err(e) => {
                // A refused message leaves the session usable; a broken one is dropped.
                if !conn.has_broken() {
                    self.idle.lock().await.push(conn);
                }
                Err(smtp_error(e))
            }
        }
    }
}
