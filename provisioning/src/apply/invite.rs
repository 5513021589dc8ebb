//! Sending invitation emails: token recorded (as a hash) before the mail goes out, so a link in
//! a member's mailbox always matches the record; a resend after a crash replaces the token.

use relais_core::{StoreError, store::lease::Fence, time::now_ms};
use relais_mail::{Mailer, Outgoing};

use super::Failure;
use crate::{onboarding, plan::Action, store::ProvisioningStore};

/// What invitations need: the mail server and where the web page is.
#[derive(Debug, Clone)]
pub struct Inviter {
    pub mailer: Mailer,
    /// `[web] public_url`, without a trailing slash.
    pub web_url: String,
    pub valid_days: u32,
}

impl Inviter {
    /// Issues the member's token (fenced by the provisioning lease) and mails the link.
    pub async fn send(
        &self,
        store: &ProvisioningStore,
        fence: &Fence,
        action: &Action,
    ) -> Result<(), Failure> {
        let Action::SendInvitation { member_id, email, first_name, federation } = action else {
            return Err(Failure::Permanent("not an invitation".into()));
        };
        let token = onboarding::new_token();
        let expires = now_ms() + i64::from(self.valid_days) * 24 * 3600 * 1000;
        let issued = store
            .issue_invitation(fence, member_id, &onboarding::token_hash(&token), expires)
            .await
            .map_err(|e| match e {
                StoreError::LeaseLost(_) => Failure::LeaseLost,
                other => Failure::Transient(other.to_string()),
            })?;
        if !issued {
            // An account is being made (or was made) with the member's invitation: no new link.
            return Ok(());
        }
        let link = format!("{}/inscription/{token}", self.web_url);
        let (subject, text, html) =
            onboarding::invitation_email(first_name, federation, &link, self.valid_days);
        let mail = Outgoing { to: email.clone(), subject, text, html: Some(html) };
        self.mailer.send(&mail).await.map_err(|e| match e {
            relais_mail::MailError::Send(_) => Failure::Transient(e.to_string()),
            _ => Failure::Permanent(e.to_string()),
        })
    }

    /// Mails a sympathiser the link confirming their sign-up (`/relais/rejoindre/{token}`).
    pub async fn send_sympathiser_link(
        &self,
        email: &str,
        token: &str,
    ) -> Result<(), relais_mail::MailError> {
        let link = format!("{}/relais/rejoindre/{token}", self.web_url);
        let (subject, text, html) = crate::sympathiser::confirmation_email(&link);
        self.mailer.send(&Outgoing { to: email.to_owned(), subject, text, html: Some(html) }).await
    }
}
