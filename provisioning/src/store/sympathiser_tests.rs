//! Sympathisers on both backends: one record per address, links that work once, no resend
//! storm, confirmed sign-ups listed for their federation, and the link to a member.

use relais_core::{store::testing, time::now_ms};

use super::{LEASE, ProvisioningStore, sympathiser::SignUpOutcome};
use crate::{onboarding::token_hash, sympathiser::SignUp};

fn form(email: &str) -> SignUp {
    SignUp {
        first_name: "Camille".into(),
        last_name: "Martin".into(),
        email: email.into(),
        departement: ("59", "Nord"),
        wants_help: true,
        wants_join: false,
    }
}

#[tokio::test]
async fn a_sign_up_is_confirmed_once_and_listed_for_its_federation() {
    testing::on_both(|store| async move {
        let records = ProvisioningStore::new(store.clone());
        let later = now_ms() + 3_600_000;
        let (f, t) = (form("Camille@example.org"), token_hash("t1"));
        let outcome = records.sign_up(&f, "nord", "v1", &t, later).await;
        assert_eq!(outcome.expect("sign up"), SignUpOutcome::Mail);
        // Again at once, with the address in another case: nothing new is mailed.
        let (f, t) = (form("camille@EXAMPLE.org"), token_hash("t2"));
        let again = records.sign_up(&f, "nord", "v1", &t, later).await;
        assert_eq!(again.expect("again"), SignUpOutcome::Quiet);
        assert!(records.sympathiser_by_token(&token_hash("t2")).await.expect("t2").is_none());
        let pending = records.sympathiser_by_token(&token_hash("t1")).await.expect("t1").expect("works");
        assert_eq!((pending.first_name.as_str(), pending.federation.as_str()), ("Camille", "nord"));
        assert!(records.sympathisers_of("nord").await.expect("list").is_empty(), "not confirmed yet");

        assert!(records.claim_sympathiser(&token_hash("t1"), 60_000).await.expect("claim"));
        assert!(!records.claim_sympathiser(&token_hash("t1"), 60_000).await.expect("claimed"));
        assert!(records.confirm_sympathiser(&token_hash("t1"), "@camille:pcf.test").await.expect("confirm"));
        assert!(!records.confirm_sympathiser(&token_hash("t1"), "@other:pcf.test").await.expect("once"));
        assert!(records.sympathiser_by_token(&token_hash("t1")).await.expect("gone").is_none());
        assert_eq!(records.charter_versions("@camille:pcf.test").await.expect("charter"), ["v1"]);

        let listed = records.sympathisers_of("nord").await.expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].user_id.as_deref(), Some("@camille:pcf.test"));
        assert!(listed[0].wants_help && !listed[0].wants_join);
        assert!(records.sympathisers_of("isere").await.expect("isere").is_empty());
        // Confirmed: a later sign-up of the address changes nothing.
        let (f, t) = (form("camille@example.org"), token_hash("t3"));
        let quiet = records.sign_up(&f, "isere", "", &t, later).await;
        assert_eq!(quiet.expect("quiet"), SignUpOutcome::Quiet);

        // The membership file names them: linked as an invitation's account would be.
        let accounts = records.sympathiser_accounts().await.expect("accounts");
        assert_eq!(accounts.len(), 1);
        assert_eq!(
            (accounts[0].email_key.as_str(), accounts[0].user_id.as_str(), accounts[0].last_name.as_str()),
            ("camille@example.org", "@camille:pcf.test", "Martin")
        );
        let fence = testing::fence(&store, LEASE).await;
        records.link_sympathisers(&fence, &[("m1".into(), "@camille:pcf.test".into())]).await.expect("link");
        let linked = records.invitations().await.expect("invitations");
        assert_eq!(linked.len(), 1);
        assert_eq!(
            (linked[0].member_id.as_str(), linked[0].user_id.as_deref()),
            ("m1", Some("@camille:pcf.test"))
        );
        assert!(records.sympathiser_accounts().await.expect("none left").is_empty());
        assert!(
            records.sympathisers_of("nord").await.expect("list").is_empty(),
            "a member now, followed as one"
        );
        // The member's export shows the sympathiser they were and what they accepted.
        let export = records.member_export("m1").await.expect("export");
        assert_eq!(export["sympathiser"]["email"], "Camille@example.org");
        assert_eq!(export["sympathiser"]["wants_help"], true);
        assert_eq!(export["charter_acceptances"][0]["version"], "v1");
        // Forgetting the member forgets the sympathiser they were and what they accepted.
        records.member_forget(&fence, "m1", "test", &[]).await.expect("forget");
        assert!(records.charter_versions("@camille:pcf.test").await.expect("charter").is_empty());
        let left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM sympathiser").fetch_one(store.pool()).await.expect("n");
        assert_eq!(left, 0);
    })
    .await;
}

#[tokio::test]
async fn an_expired_link_works_no_more_and_its_sign_up_is_forgotten() {
    testing::on_both(|store| async move {
        let records = ProvisioningStore::new(store);
        let past = now_ms() - 1;
        records.sign_up(&form("a@example.org"), "", "", &token_hash("old"), past).await.expect("sign up");
        assert!(records.sympathiser_by_token(&token_hash("old")).await.expect("old").is_none());
        assert!(!records.claim_sympathiser(&token_hash("old"), 60_000).await.expect("claim"));
        // The next sign-up (anyone's) forgets it; the same address can sign up anew.
        let later = now_ms() + 3_600_000;
        let (f, t) = (form("a@example.org"), token_hash("new"));
        let again = records.sign_up(&f, "", "", &t, later).await;
        assert_eq!(again.expect("again"), SignUpOutcome::Mail);
        assert!(records.sympathiser_by_token(&token_hash("new")).await.expect("new").is_some());
        // A referent erases a sympathiser of their own federation only.
        let id = records.sympathiser_by_token(&token_hash("new")).await.expect("new").expect("there").id;
        assert!(!records.forget_sympathiser("nord", id, "@r:pcf.test").await.expect("not theirs"));
        assert!(records.forget_sympathiser("", id, "@r:pcf.test").await.expect("theirs"));
        assert!(records.sympathiser_by_token(&token_hash("new")).await.expect("gone").is_none());
    })
    .await;
}
