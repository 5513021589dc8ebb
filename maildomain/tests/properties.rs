//! Property tests of every parser of mail from outside: the HTML-to-text conversion and the
//! reply stripping (`strip`), the `Authentication-Results` and bounce parsers
//! (`auth_results`, `dsn`), and the whole reading of a received mail (`examine`: MIME
//! parsing, key, loop protection, sender authentication, text extraction).
//!
//! Inputs are arbitrary, built from adversarial fragments, or mutations of the real client
//! replies of `tests/corpus/replies`. Properties: nothing panics, and the work stays linear —
//! counted by `strip::work_of` (steps ≤ k × bytes) where the code is instrumented, else bounded
//! through the size of what comes out. 256 cases each, so the suite stays quick.

use std::path::Path;

use proptest::prelude::*;
use relais_maildomain::{
    auth_results::{self, Verdict},
    dsn,
    examine::{AuthPolicy, Examined, examine},
    keys::Keys,
    strip::{MAX_TEXT_BYTES, TRUNCATED, html_to_text, strip_reply, work_of},
};

const CASES: u32 = 256;

/// Steps per input byte the conversion may take (the adversarial shapes of `strip`'s unit
/// tests take 1 to 15).
const STEPS_PER_BYTE: u64 = 16;

/// Pieces that steer the parsers into their corners: unclosed elements, stray quotes and
/// entities, attributions, header blocks, quote levels, signatures, odd line ends.
const FRAGMENTS: &[&str] = &[
    "<head>",
    "</head>",
    "<head/>",
    "<!--",
    "-->",
    "<style>",
    "</style",
    "<script>",
    "<title>",
    "<blockquote>",
    "</blockquote>",
    "<div class=\"gmail_quote\">",
    "<div id=\"divRplyFwdMsg\">",
    "</div>",
    "<p class=MsoNormal>",
    "</p>",
    "<pre>",
    "</pre>",
    "<br>",
    "<li>",
    "<td>",
    "<a title=\"x>y\" href='",
    "=\"",
    "='",
    "\"",
    "'",
    "<",
    ">",
    "</",
    "<!",
    "&",
    "&#",
    "&#x",
    "&#x10FFFF;",
    "&#128;",
    "&nbsp;",
    ";",
    "\r\n",
    "\r",
    "\n",
    "\n\n",
    "> ",
    ">>>>>>>>",
    "-- \n",
    "--\n",
    "Le 23/11/2026 à 18:02, Paul <paul@example.org> a écrit :\n",
    "On Mon, Nov 23, 2026 at 6:02 PM Jeanne <\n",
    "jeanne@example.org> wrote:\n",
    "De : Paul\nEnvoyé : lundi\nÀ : Jeanne\nObjet : Réunion\n",
    "-----Message d'origine-----\n",
    "> Message du 23/11/26 18:02\n> De : P\n",
    "Envoyé de mon iPhone\n",
    "________________\n",
    "é",
    "e\u{301}",
    "\u{a0}",
    "\u{feff}",
    "\u{200b}",
    "日本",
    " ",
    "\t",
    "Oui",
];

/// Text made of fragments and arbitrary characters, a run of which is repeated up to hundreds
/// of times (repeated structures are what an adversary of a quadratic parser sends).
fn soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![3 => prop::sample::select(FRAGMENTS).prop_map(str::to_owned), 1 => ".{0,6}"];
    (prop::collection::vec(piece, 0..40), any::<usize>(), 1..8usize, 1..200usize).prop_map(
        |(pieces, start, len, times)| {
            let start = start % (pieces.len() + 1);
            let end = (start + len).min(pieces.len());
            let run = pieces[start..end].concat().repeat(times);
            [pieces[..start].concat(), run, pieces[end..].concat()].concat()
        },
    )
}

/// One change to a real input.
#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    /// Bytes `at..at + len` written `times` times (repeated structures are what the adversary
    /// of a quadratic parser sends).
    Repeat(usize, usize, usize),
    Set(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), prop::sample::select(FRAGMENTS))
            .prop_map(|(at, f)| Mutation::Insert(at, f.as_bytes().to_vec())),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, b)| Mutation::Insert(at, b)),
        (any::<usize>(), 1..64usize).prop_map(|(at, len)| Mutation::Delete(at, len)),
        (any::<usize>(), 1..48usize, 2..300usize).prop_map(|(at, len, n)| Mutation::Repeat(at, len, n)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Set(at, b)),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let at = |i: usize, len: usize| i % (len + 1);
        match m {
            Mutation::Insert(i, b) => {
                let i = at(*i, bytes.len());
                bytes.splice(i..i, b.iter().copied());
            }
            Mutation::Delete(i, len) => {
                let i = at(*i, bytes.len());
                let end = (i + len).min(bytes.len());
                bytes.drain(i..end);
            }
            Mutation::Repeat(i, len, times) => {
                let i = at(*i, bytes.len());
                let end = (i + len).min(bytes.len());
                let piece = bytes[i..end].repeat(*times);
                bytes.splice(i..end, piece);
            }
            Mutation::Set(i, b) => {
                if !bytes.is_empty() {
                    let i = *i % bytes.len();
                    bytes[i] = *b;
                }
            }
        }
    }
    bytes
}

/// The client replies of the corpus: (whether HTML, bytes).
fn corpus() -> Vec<(bool, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/replies");
    let mut cases: Vec<(bool, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter_map(|path| match path.extension().and_then(|e| e.to_str()) {
            Some("html") => Some((true, std::fs::read(&path).expect("corpus file"))),
            Some("txt") => Some((false, std::fs::read(&path).expect("corpus file"))),
            _ => None,
        })
        .collect();
    cases.sort();
    assert!(cases.len() >= 14, "the corpus went missing");
    cases
}

fn mutated_corpus() -> impl Strategy<Value = (bool, String)> {
    (prop::sample::select(corpus()), prop::collection::vec(mutation(), 0..8)).prop_map(
        |((html, bytes), mutations)| (html, String::from_utf8_lossy(&mutate(bytes, &mutations)).into_owned()),
    )
}

/// The conversion of `input` never panics, takes linear work, and writes no more than it read
/// (but for a few bytes) and no more than the budget.
fn check_strip(input: &str, html: bool) -> Result<(), TestCaseError> {
    let bound = STEPS_PER_BYTE * (input.len() as u64 + 16);
    let text = if html {
        let (text, work) = work_of(|| html_to_text(input));
        prop_assert!(work <= bound, "html_to_text: {work} steps for {} bytes", input.len());
        prop_assert!(
            text.len() <= input.len() + 4,
            "{} bytes of text from {} of HTML",
            text.len(),
            input.len()
        );
        text
    } else {
        input.to_owned()
    };
    let (reply, work) = work_of(|| strip_reply(&text));
    prop_assert!(
        work <= STEPS_PER_BYTE * (text.len() as u64 + 16),
        "strip_reply: {work} steps for {} bytes",
        text.len()
    );
    prop_assert!(reply.len() <= text.len().min(MAX_TEXT_BYTES + TRUNCATED.len()));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn strip_any_text(input in any::<String>()) {
        check_strip(&input, true)?;
        check_strip(&input, false)?;
    }

    #[test]
    fn strip_fragment_soup(input in soup()) {
        check_strip(&input, true)?;
        check_strip(&input, false)?;
    }

    #[test]
    fn strip_mutated_client_replies((html, input) in mutated_corpus()) {
        check_strip(&input, html)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Authentication-Results and bounces
// ---------------------------------------------------------------------------------------------

const AUTHSERV: &str = "mx.pcf.fr";

/// Headers as MTAs write them (Gmail, Microsoft, rspamd), and DSN bodies.
const HEADERS: &[&str] = &[
    "mx.pcf.fr; dkim=pass (2048-bit key) header.d=example.org header.i=@example.org header.b=abcd; \
     spf=pass (domain of x@example.org designates 1.2.3.4) smtp.mailfrom=x@example.org; \
     dmarc=pass (p=NONE) header.from=example.org",
    "mx.pcf.fr;\r\n       dkim=pass header.i=@gmail.com header.s=20230601 header.b=Xy1+/z;\r\n       \
     spf=pass (google.com: domain of alice@gmail.com) smtp.mailfrom=alice@gmail.com;\r\n       \
     dmarc=pass (p=NONE sp=QUARANTINE dis=NONE) header.from=gmail.com",
    "mx.pcf.fr 1; spf=fail smtp.mailfrom=evil.example; dkim=none; dmarc=fail (p=reject) header.from=example.org",
    "mx.pcf.fr; dkim/1=pass header.d = example.org; spf=softfail \"quoted ; text\" smtp.mailfrom=@example.org.",
    "mx.pcf.fr; none",
];

const DSNS: &[&str] = &[
    "Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; x@example.org\nAction: failed\n\
     Status: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <x@example.org>: user unknown\n",
    "Final-Recipient: rfc822; y@example.org\nAction: delayed\nStatus: 4.4.1\n",
    "Votre message n'a pas pu être remis : la boîte aux lettres est pleine. 552 5.2.2",
];

fn mutated(samples: &'static [&'static str]) -> impl Strategy<Value = String> {
    (prop::sample::select(samples), prop::collection::vec(mutation(), 0..8)).prop_map(
        |(sample, mutations)| {
            String::from_utf8_lossy(&mutate(sample.as_bytes().to_vec(), &mutations)).into_owned()
        },
    )
}

/// A verdict's words come from its input: its size is bounded by it.
fn check_verdict(headers: &[&str], from: &str) -> Result<(), TestCaseError> {
    let verdict = auth_results::evaluate(headers, AUTHSERV, from);
    if let Verdict::Fail { reason } = verdict {
        let input: usize = headers.iter().map(|h| h.len()).sum::<usize>() + from.len();
        prop_assert!(reason.len() <= 2 * input + 100, "{} bytes of reason from {input}", reason.len());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn authentication_results_any_text(headers in prop::collection::vec(any::<String>(), 0..4), from in any::<String>()) {
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        check_verdict(&headers, &from)?;
        let _ = auth_results::is_auto_submitted(headers.first().copied());
    }

    #[test]
    fn authentication_results_mutated(headers in prop::collection::vec(mutated(HEADERS), 1..3), from in mutated(&["example.org", "x@gmail.com"])) {
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        check_verdict(&headers, &from)?;
        let _ = auth_results::is_auto_submitted(Some(headers[0]));
    }

    #[test]
    fn bounces_any_and_mutated(text in any::<String>(), dsn in mutated(DSNS)) {
        for input in [&text, &dsn] {
            let _ = dsn::classify_dsn(input);
            let _ = dsn::classify_text_bounce(input);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A whole received mail
// ---------------------------------------------------------------------------------------------

const DOMAIN: &str = "listes.pcf.fr";

fn keys() -> Keys {
    Keys::new(b"property tests")
}

/// A reply from Jeanne to message 7 of list `nord`, with `body` as its only part or as the HTML
/// half of an alternative, as the clients send them.
fn mail(html: bool, body: &[u8], shape: u8) -> (String, Vec<u8>) {
    let rcpt = format!("{}@{DOMAIN}", keys().reply_localpart("nord", 7, "1042"));
    let kind = if html { "html" } else { "plain" };
    let header = format!(
        "Authentication-Results: {AUTHSERV}; dkim=pass header.d=example.org; dmarc=pass header.from=example.org\r\n\
         From: Jeanne Martin <jeanne@example.org>\r\nTo: {rcpt}\r\nSubject: Re: Tract\r\n\
         Message-ID: <abc@example.org>\r\nMIME-Version: 1.0\r\n"
    );
    let mut raw = header.into_bytes();
    match shape % 3 {
        0 => {
            raw.extend(
                format!(
                    "Content-Type: text/{kind}; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                )
                .bytes(),
            );
            raw.extend_from_slice(body);
        }
        1 => {
            raw.extend(
                format!(
                    "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\n\
                     Content-Type: text/{kind}; charset=utf-8\r\n\r\n"
                )
                .bytes(),
            );
            raw.extend_from_slice(body);
            raw.extend_from_slice(b"\r\n--b1\r\nContent-Type: application/pdf; name=\"tract.pdf\"\r\n\
                Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n");
        }
        _ => {
            raw.extend(
                format!("Content-Type: text/{kind}; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
                    .bytes(),
            );
            raw.extend_from_slice(body);
        }
    }
    (rcpt, raw)
}

fn mutated_mail() -> impl Strategy<Value = (String, Vec<u8>)> {
    (prop::sample::select(corpus()), any::<u8>(), prop::collection::vec(mutation(), 0..8)).prop_map(
        |((html, body), shape, mutations)| {
            let (rcpt, raw) = mail(html, &body, shape);
            (rcpt, mutate(raw, &mutations))
        },
    )
}

/// Examines `raw` from `mail_from` under both policies: never a panic, never an answer to a
/// null sender (loop protection), and a reply's text and files bounded by the mail.
fn check_examine(raw: &[u8], rcpt: &str, mail_from: &str) -> Result<(), TestCaseError> {
    for policy in [AuthPolicy::Upstream(AUTHSERV.into()), AuthPolicy::None] {
        let examined = examine(raw, rcpt, mail_from, &keys(), DOMAIN, &policy);
        if mail_from.is_empty() {
            prop_assert!(
                matches!(examined, Examined::Drop(_) | Examined::Bounce { .. }),
                "a null sender got {examined:?}"
            );
        }
        if let Examined::Reply(reply) = examined {
            prop_assert!(reply.text.len() <= MAX_TEXT_BYTES + TRUNCATED.len());
            let files: usize = reply.attachments.iter().map(|a| a.data.len()).sum();
            // Decoding shrinks base64 and quoted-printable; a charset may take 3 bytes a byte.
            prop_assert!(files <= 3 * raw.len() + 1024, "{files} bytes of files from {} of mail", raw.len());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn examine_any_bytes(raw in prop::collection::vec(any::<u8>(), 0..2048), rcpt in any::<String>(), from in any::<String>()) {
        check_examine(&raw, &rcpt, &from)?;
        check_examine(&raw, &rcpt, "")?;
    }

    #[test]
    fn examine_mutated_client_replies((rcpt, raw) in mutated_mail(), null_sender in any::<bool>()) {
        let from = if null_sender { "" } else { "jeanne@example.org" };
        check_examine(&raw, &rcpt, from)?;
    }

    #[test]
    fn examine_fragment_soup_as_a_body(body in soup(), html in any::<bool>(), shape in any::<u8>()) {
        let (rcpt, raw) = mail(html, body.as_bytes(), shape);
        check_examine(&raw, &rcpt, "jeanne@example.org")?;
    }
}

/// The real replies, unmutated, come through whole: what the properties mutate is a working
/// mail, not one examine already refuses.
#[test]
fn unmutated_corpus_mails_are_replies() {
    for (html, body) in corpus() {
        for shape in 0..3 {
            let (rcpt, raw) = mail(html, &body, shape);
            let examined = examine(
                &raw,
                &rcpt,
                "jeanne@example.org",
                &keys(),
                DOMAIN,
                &AuthPolicy::Upstream(AUTHSERV.into()),
            );
            assert!(
                matches!(&examined, Examined::Reply(r) if r.authenticated && r.member == "1042"),
                "{examined:?}"
            );
        }
    }
}
