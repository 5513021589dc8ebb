//! The mail bridge's part of erasing a member: their address's health, their choices and
//! opt-ins, their deliveries; the messages they wrote stay, no longer attributed to them.

use relais_provisioning::store::{EraseFuture, MemberEraser};
use sqlx::AnyConnection;

use super::MailStore;

impl MemberEraser for MailStore {
    fn erase_member<'a>(
        &'a self,
        tx: &'a mut AnyConnection,
        member_id: &'a str,
        email: Option<&'a str>,
    ) -> EraseFuture<'a> {
        Box::pin(async move {
            let mut removed = 0;
            if let Some(email) = email {
                removed += sqlx::query("DELETE FROM mail_address WHERE email = $1")
                    .bind(email)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            sqlx::query("UPDATE mail_message SET author_member = NULL WHERE author_member = $1")
                .bind(member_id)
                .execute(&mut *tx)
                .await?;
            for sql in [
                "DELETE FROM mail_pref WHERE member_id = $1",
                "DELETE FROM mail_optin WHERE member_id = $1",
                "DELETE FROM mail_outbox WHERE member_id = $1",
            ] {
                removed += sqlx::query(sql).bind(member_id).execute(&mut *tx).await?.rows_affected();
            }
            Ok(removed)
        })
    }
}
