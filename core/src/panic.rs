//! Panics without members' data. A panic's message is often formatted at run time
//! (`panic!("… {x}")`, `expect`, `unwrap` on an error, which carries the error's text) and may
//! then hold what was being processed: a mail's text, an address, a name. Reports of panics say
//! where and on which thread they happened, and their message only when it is a string literal
//! (a `&'static str` payload, which cannot hold run-time data); any other message is withheld
//! unless `RELAIS_LOG_PANIC_MESSAGES=1` asks for it, to debug. Tokio's own `JoinError` text
//! carries the message too: [`task_end`] says how a task ended without it.

use std::{any::Any, borrow::Cow, panic::Location};

/// What a report says instead of a message that may hold personal data.
pub const WITHHELD: &str = "(message withheld: may contain personal data)";

/// Set to `1`, reports show every panic message (for debugging, never in production).
pub const REVEAL_VAR: &str = "RELAIS_LOG_PANIC_MESSAGES";

/// Whether [`REVEAL_VAR`] asks for every message.
pub fn reveal_from_env() -> bool {
    std::env::var(REVEAL_VAR).is_ok_and(|v| v == "1")
}

/// A panic's message as it may be logged: a literal as it is, a formatted message only when
/// `reveal`.
pub fn message(payload: &(dyn Any + Send), reveal: bool) -> Cow<'_, str> {
    if let Some(literal) = payload.downcast_ref::<&'static str>() {
        return Cow::Borrowed(literal);
    }
    match payload.downcast_ref::<String>() {
        Some(formatted) if reveal => Cow::Borrowed(formatted),
        Some(_) => Cow::Borrowed(WITHHELD),
        None => Cow::Borrowed("(no text message)"),
    }
}

/// One line about a panic, as std's own hook words it:
/// `thread 'name' panicked at file:line:column: message`.
pub fn report(
    payload: &(dyn Any + Send),
    location: Option<&Location<'_>>,
    thread: Option<&str>,
    reveal: bool,
) -> String {
    let thread = thread.unwrap_or("<unnamed>");
    let place = location.map_or_else(
        || "an unknown place".to_owned(),
        |l| format!("{}:{}:{}", l.file(), l.line(), l.column()),
    );
    format!("thread '{thread}' panicked at {place}: {}", message(payload, reveal))
}

/// How a task that did not finish ended, without its panic message (tokio's `JoinError` shows
/// it): `"panicked"` or `"was cancelled"`.
pub fn task_end(error: &tokio::task::JoinError) -> &'static str {
    if error.is_panic() { "panicked" } else { "was cancelled" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_literal_is_shown_a_formatted_message_withheld() {
        let here = Location::caller();
        let literal: &'static str = "the store lost its lease";
        let line = report(&literal, Some(here), Some("mail inbound"), false);
        assert_eq!(
            line,
            format!(
                "thread 'mail inbound' panicked at {}:{}:{}: the store lost its lease",
                here.file(),
                here.line(),
                here.column()
            )
        );
        let formatted = String::from("cannot parse Jeanne Martin <jeanne@example.org>: Je serai là");
        let line = report(&formatted, Some(here), None, false);
        assert!(line.starts_with("thread '<unnamed>' panicked at core/src/panic.rs:"), "{line}");
        assert!(line.ends_with(": (message withheld: may contain personal data)"), "{line}");
        assert!(!line.contains("jeanne") && !line.contains("serai"), "{line}");
        // Asked for, to debug.
        assert!(report(&formatted, None, None, true).ends_with(&formatted));
        assert!(report(&42_u32, None, None, true).ends_with("at an unknown place: (no text message)"));
    }

    /// The payloads real panics carry: a literal `panic!` gives a `&'static str`; formatting,
    /// `expect` and `unwrap` give a `String` (withheld).
    #[test]
    fn real_payloads_are_told_apart() {
        let payload = |f: fn()| std::panic::catch_unwind(f).expect_err("it panics");
        let literal = payload(|| panic!("a literal"));
        assert_eq!(message(literal.as_ref(), false), "a literal");
        let formatted = payload(|| {
            let address = "jeanne@example.org";
            panic!("no member for {address}")
        });
        assert_eq!(message(formatted.as_ref(), false), WITHHELD);
        assert_eq!(message(formatted.as_ref(), true), "no member for jeanne@example.org");
        let unwrapped = payload(|| {
            let parsed: Result<u32, String> = Err("jeanne@example.org".into());
            parsed.map(|_| ()).expect("a member");
        });
        assert_eq!(message(unwrapped.as_ref(), false), WITHHELD);
    }

    #[tokio::test]
    async fn a_task_that_panicked_is_told_without_its_message() {
        let error = tokio::spawn(async {
            let text = "Je serai là samedi";
            panic!("cannot post {text}")
        })
        .await
        .expect_err("the task panics");
        assert!(error.to_string().contains("Je serai là"), "tokio's text carries the message");
        assert_eq!(task_end(&error), "panicked");
        let pending = tokio::spawn(std::future::pending::<()>());
        pending.abort();
        assert_eq!(task_end(&pending.await.expect_err("aborted")), "was cancelled");
    }
}
