//! Authentication-Results read as our MTA writes them, and forged ones refused.

use super::*;

const ID: &str = "mx.pcf.fr";

fn pass(method: &'static str) -> Verdict {
    Verdict::Pass { method }
}

fn is_fail(verdict: &Verdict) -> bool {
    matches!(verdict, Verdict::Fail { .. })
}

fn reason(verdict: Verdict) -> String {
    match verdict {
        Verdict::Fail { reason } => reason,
        other => format!("not a failure: {other:?}"),
    }
}

#[test]
fn tokenizer_drops_nested_comments_and_keeps_quoted_strings() {
    let tokens = tokenize("a (x (y) \\) z) b=\"c;(d)\"\r\n\t; e");
    assert_eq!(
        tokens,
        vec![
            Token::Word("a".into()),
            Token::Word("b".into()),
            Token::Equals,
            Token::Quoted("c;(d)".into()),
            Token::Semi,
            Token::Word("e".into()),
        ]
    );
    assert_eq!(tokenize("x (unterminated"), vec![Token::Word("x".into())]);
    assert_eq!(
        tokenize("x \"unterminated"),
        vec![Token::Word("x".into()), Token::Quoted("unterminated".into())]
    );
}

#[test]
fn parser_reads_methods_versions_and_properties() {
    let header = parse_header(
        "mx.pcf.fr 1; DKIM/1 = Pass (good) header . d = Example.org header.b=ab/c+d==; \
         dmarc=pass policy.dmarc=reject header.from=\"example.org\"; none",
    );
    let Some(header) = header else { panic!("unparsed") };
    assert_eq!(header.authserv_id, "mx.pcf.fr");
    assert_eq!(header.version.as_deref(), Some("1"));
    assert_eq!(header.results.len(), 2);
    assert_eq!(header.results[0].method, "dkim");
    assert_eq!(header.results[0].result, "pass");
    assert_eq!(header.results[0].prop("header.d"), Some("Example.org"));
    assert_eq!(header.results[0].prop("header.b"), Some("ab/c+d"));
    assert_eq!(header.results[1].prop("policy.dmarc"), Some("reject"));
    assert_eq!(header.results[1].prop("header.from"), Some("example.org"));
    assert_eq!(parse_header(""), None);
    assert_eq!(parse_header("  (only a comment) ; dkim=pass"), None);
}

#[test]
fn domains_and_alignment() {
    assert_eq!(normalize_domain("<X@Example.ORG.>").as_deref(), Some("example.org"));
    assert_eq!(normalize_domain("@example.org").as_deref(), Some("example.org"));
    assert_eq!(normalize_domain("x@"), None);
    assert_eq!(normalize_domain("a..b"), None);
    assert!(aligned("example.org", "example.org"));
    assert!(aligned("mail.example.org", "example.org"));
    assert!(aligned("example.org", "news.example.org"));
    assert!(!aligned("badexample.org", "example.org"));
    assert!(!aligned("example.org", "org"), "a top-level domain aligns with nothing");
    assert!(!aligned("example.org", "example.com"));
}

#[test]
fn gmail_style() {
    let gmail = "mx.pcf.fr; dkim=pass (2048-bit key) header.d=example.org header.i=@example.org \
                 header.b=abcd; spf=pass (domain of x@example.org designates 1.2.3.4) \
                 smtp.mailfrom=x@example.org; dmarc=pass (p=NONE) header.from=example.org";
    assert_eq!(evaluate(&[gmail], ID, "example.org"), pass("dmarc"));
    assert_eq!(evaluate(&[gmail], "MX.PCF.FR", "Example.Org"), pass("dmarc"));
    let folded = "mx.pcf.fr;\r\n       dkim=pass header.i=@gmail.com header.s=20230601 \
                  header.b=Xy1+/z;\r\n       \
                  spf=pass (google.com: domain of alice@gmail.com designates 209.85.1.2 as permitted \
                  sender) smtp.mailfrom=alice@gmail.com;\r\n       dmarc=pass (p=NONE sp=QUARANTINE \
                  dis=NONE) header.from=gmail.com";
    assert_eq!(evaluate(&[folded], ID, "gmail.com"), pass("dmarc"));
    assert_eq!(evaluate(&[folded], ID, "alice@gmail.com"), pass("dmarc"), "an address works too");
}

#[test]
fn microsoft_style() {
    let outlook = "mx.pcf.fr 1; spf=pass (sender IP is 40.92.1.2) smtp.mailfrom=outlook.fr;\r\n \
                   dkim=pass \
                   (signature was verified) header.d=outlook.fr;dmarc=pass action=none \
                   header.from=outlook.fr;compauth=pass reason=100";
    assert_eq!(evaluate(&[outlook], ID, "outlook.fr"), pass("dmarc"));
    let best_guess = "mx.pcf.fr; spf=pass (sender IP is 1.2.3.4) smtp.mailfrom=asso.fr; dkim=none \
                      (message not signed) header.d=none;dmarc=bestguesspass action=none \
                      header.from=asso.fr;compauth=pass reason=109";
    assert_eq!(evaluate(&[best_guess], ID, "asso.fr"), pass("spf"), "bestguesspass is no DMARC pass");
}

#[test]
fn rspamd_style() {
    let rspamd = "mx.pcf.fr;\n\tdkim=pass header.d=example.org header.s=dkim header.b=\"Abc/1+2\";\n\t\
                  dmarc=pass (policy=reject) header.from=example.org;\n\tspf=pass (mx.pcf.fr: domain of \
                  \"bounce@example.org\" designates 1.2.3.4 as permitted sender) \
                  smtp.mailfrom=bounce@example.org";
    assert_eq!(evaluate(&[rspamd], ID, "example.org"), pass("dmarc"));
    let rejected = "mx.pcf.fr;\n\tdkim=none;\n\tdmarc=fail reason=\"No valid SPF, No valid DKIM\" \
                    header.from=example.org (policy=reject);\n\tspf=softfail \
                    (mx.pcf.fr: 6.6.6.6 is neither \
                    permitted nor denied) smtp.mailfrom=x@example.org";
    assert_eq!(reason(evaluate(&[rejected], ID, "example.org")), "DMARC failed for example.org");
}

#[test]
fn dkim_and_spf_without_dmarc() {
    let several = "MX.PCF.FR; dkim=fail (bad signature) header.d=example.org; \
                   dkim=pass header.d=example.org \
                   header.i=@news.example.org; dkim=fail header.d=other.example";
    assert_eq!(evaluate(&[several], ID, "example.org"), pass("dkim"), "one pass among fails");
    let by_i = "mx.pcf.fr; dkim=pass header.i=@mail.example.org";
    assert_eq!(evaluate(&[by_i], ID, "example.org"), pass("dkim"));
    let subdomain = "mx.pcf.fr; dkim=pass header.d=example.org; dmarc=none header.from=lists.example.org";
    assert_eq!(evaluate(&[subdomain], ID, "lists.example.org"), pass("dkim"));
    let spf = "mx.pcf.fr; dkim=none; spf=pass smtp.mailfrom=<bounce@mail.example.org>; dmarc=temperror";
    assert_eq!(evaluate(&[spf], ID, "example.org"), pass("spf"));
    let dkim_fail = "mx.pcf.fr; dkim=fail header.d=example.org; dkim=permerror header.d=example.org";
    assert_eq!(reason(evaluate(&[dkim_fail], ID, "example.org")), "DKIM signature did not verify");
    let spf_fail = "mx.pcf.fr; spf=fail smtp.mailfrom=x@example.org";
    assert_eq!(reason(evaluate(&[spf_fail], ID, "example.org")), "SPF failed");
    let dmarc_wins = "mx.pcf.fr; dkim=pass header.d=example.org; dmarc=fail header.from=example.org";
    assert!(is_fail(&evaluate(&[dmarc_wins], ID, "example.org")), "DMARC fail is final");
}

#[test]
fn unaligned_passes_fail() {
    let mailing = "mx.pcf.fr; dkim=pass header.d=mcsv.net header.i=@mcsv.net; spf=pass \
                   smtp.mailfrom=bounce-mc.us1_123@mail123.mcsv.net; dmarc=none header.from=example.org";
    let verdict = evaluate(&[mailing], ID, "example.org");
    assert!(reason(verdict).contains("DKIM signature of another domain (mcsv.net)"));
    let spf_only = "mx.pcf.fr; spf=pass smtp.mailfrom=x@sendgrid.net";
    assert!(reason(evaluate(&[spf_only], ID, "example.org")).contains("SPF passed for another domain"));
    let lookalike = "mx.pcf.fr; dkim=pass header.d=evil-example.org; spf=pass smtp.mailfrom=notexample.org";
    assert!(is_fail(&evaluate(&[lookalike], ID, "example.org")));
    let tld = "mx.pcf.fr; dkim=pass header.d=org";
    assert!(is_fail(&evaluate(&[tld], ID, "example.org")));
    let no_domain = "mx.pcf.fr; dkim=pass header.b=abc; spf=pass smtp.helo=mx.example.org";
    assert!(is_fail(&evaluate(&[no_domain], ID, "example.org")));
}

#[test]
fn dmarc_must_be_about_the_from_domain() {
    let other = "mx.pcf.fr; dmarc=pass header.from=attacker.example";
    assert!(is_fail(&evaluate(&[other], ID, "example.org")));
    let sub = "mx.pcf.fr; dmarc=pass header.from=sub.example.org";
    assert!(is_fail(&evaluate(&[sub], ID, "example.org")), "DMARC needs the exact From domain");
    let anonymous = "mx.pcf.fr; dmarc=pass";
    assert!(is_fail(&evaluate(&[anonymous], ID, "example.org")), "no header.from, no DMARC pass");
    let fail_anonymous = "mx.pcf.fr; dkim=pass header.d=example.org; dmarc=fail";
    assert!(is_fail(&evaluate(&[fail_anonymous], ID, "example.org")));
    let policy =
        "mx.pcf.fr; dmarc=none policy.dmarc=none header.from=example.org; dkim=pass header.d=x.example";
    assert!(is_fail(&evaluate(&[policy], ID, "example.org")));
}

/// OpenDKIM and OpenDMARC (docs/deploy.md) each write their own header under our
/// authserv-id: every one of them counts.
#[test]
fn every_header_of_our_mta_counts() {
    let dmarc_none = "mx.pcf.fr; dmarc=none header.from=example.org";
    let dkim = "mx.pcf.fr; dkim=pass header.d=example.org header.s=sel";
    assert_eq!(evaluate(&[dmarc_none, dkim], ID, "example.org"), pass("dkim"), "DKIM below DMARC");
    assert_eq!(evaluate(&[dkim, dmarc_none], ID, "example.org"), pass("dkim"), "DKIM above DMARC");
    let spf = "mx.pcf.fr; spf=pass smtp.mailfrom=jeanne@example.org";
    let dkim_none = "mx.pcf.fr; dkim=none";
    assert_eq!(evaluate(&[dmarc_none, dkim_none, spf], ID, "example.org"), pass("spf"), "three headers");
    let dmarc_pass = "MX.PCF.FR; dmarc=pass header.from=example.org";
    let dkim_fail = "mx.pcf.fr; dkim=fail header.d=example.org";
    assert_eq!(evaluate(&[dkim_fail, dmarc_pass], ID, "example.org"), pass("dmarc"));
    let dmarc_fail = "mx.pcf.fr; dmarc=fail header.from=example.org";
    assert!(is_fail(&evaluate(&[dkim, dmarc_fail], ID, "example.org")), "a DMARC fail in any of ours");
    let later_hop = "relay.pcf.fr; dkim=pass header.d=example.org";
    assert_eq!(
        evaluate(&[later_hop, dmarc_none, dkim], ID, "example.org"),
        pass("dkim"),
        "a header of another id above ours is skipped"
    );
    let v2 = "mx.pcf.fr 2; dmarc=pass header.from=example.org";
    assert!(is_fail(&evaluate(&[dkim, v2], ID, "example.org")), "an unknown version in any of ours");
}

/// Our MTA prepends its headers above whatever the message carried, so a header the sender
/// wrote with our authserv-id is below ours. It cannot change what ours say about a method,
/// nor count at all once a header of another MTA separates it from ours.
#[test]
fn a_forged_header_below_ours_cannot_turn_a_fail_into_a_pass() {
    let forged = "mx.pcf.fr; dmarc=pass header.from=example.org; dkim=pass header.d=example.org; \
                  spf=pass smtp.mailfrom=example.org";
    let ours = "mx.pcf.fr; dkim=fail header.d=example.org; spf=fail smtp.mailfrom=example.org; \
                dmarc=none header.from=example.org";
    assert!(is_fail(&evaluate(&[ours, forged], ID, "example.org")), "one header of ours");
    let (dmarc_none, dkim_none) =
        ("mx.pcf.fr; dmarc=none header.from=example.org", "mx.pcf.fr; dkim=none; spf=none");
    let verdict = evaluate(&[dmarc_none, dkim_none, forged], ID, "example.org");
    assert!(is_fail(&verdict), "two headers of ours: {verdict:?}");
    let dmarc_fail = "mx.pcf.fr; dmarc=fail header.from=example.org";
    assert!(is_fail(&evaluate(&[dmarc_fail, forged], ID, "example.org")), "DMARC failed");
    // The sender's own provider (another authserv-id) stands between ours and the forgery.
    let provider = "mx.example.org; dkim=pass header.d=example.org";
    let verdict = evaluate(&[dkim_none, provider, forged], ID, "example.org");
    assert!(is_fail(&verdict), "ours report no DMARC, the forgery below another id does not count");
    let other_id = "mx.pcf.fr.evil.example; dmarc=pass header.from=example.org";
    assert!(is_fail(&evaluate(&[dkim_none, other_id], ID, "example.org")), "another id is ignored");
}

#[test]
fn the_topmost_trusted_header_wins() {
    let ours = "mx.pcf.fr; dmarc=fail header.from=example.org";
    let forged = "mx.pcf.fr; dmarc=pass header.from=example.org";
    assert!(is_fail(&evaluate(&[ours, forged], ID, "example.org")), "a forged header below");
    let other_above = "evil.example; dmarc=pass header.from=example.org";
    assert!(is_fail(&evaluate(&[other_above, ours], ID, "example.org")), "another id above");
    assert_eq!(evaluate(&[other_above], ID, "example.org"), Verdict::None, "another id is ignored");
    let prefix = "mx.pcf.fr.evil.example; dmarc=pass header.from=example.org";
    assert_eq!(evaluate(&[prefix], ID, "example.org"), Verdict::None);
    let good = "mx.pcf.fr; dmarc=pass header.from=example.org";
    assert_eq!(evaluate(&[other_above, good, ours], ID, "example.org"), pass("dmarc"));
    assert_eq!(evaluate(&[good], "", "example.org"), Verdict::None, "no configured id, no trust");
}

#[test]
fn none_missing_and_odd_headers() {
    assert_eq!(reason(evaluate(&["mx.pcf.fr; none"], ID, "example.org")), "no authentication performed");
    assert!(is_fail(&evaluate(&["mx.pcf.fr 1; none"], ID, "example.org")));
    assert!(is_fail(&evaluate(&["mx.pcf.fr"], ID, "example.org")));
    assert_eq!(evaluate(&[], ID, "example.org"), Verdict::None);
    let v2 = "mx.pcf.fr 2; dmarc=pass header.from=example.org";
    assert!(reason(evaluate(&[v2], ID, "example.org")).contains("version"));
    let quoted_id = "\"mx.pcf.fr\"; dmarc=pass header.from=example.org";
    assert_eq!(evaluate(&[quoted_id], ID, "example.org"), pass("dmarc"));
    let semicolon =
        "mx.pcf.fr; dkim=pass reason=\"ok; dmarc=pass header.from=example.org\" header.d=x.example";
    assert!(is_fail(&evaluate(&[semicolon], ID, "example.org")), "no clause inside quotes");
    let comment = "mx.pcf.fr; dkim=pass (header.d=example.org) header.d=x.example";
    assert!(is_fail(&evaluate(&[comment], ID, "example.org")), "no property inside comments");
    assert!(is_fail(&evaluate(&[good_header()], ID, "")), "no From domain");
}

fn good_header() -> &'static str {
    "mx.pcf.fr; dmarc=pass header.from=example.org"
}

#[test]
fn auto_submitted_values() {
    assert!(is_auto_submitted(Some("auto-replied")));
    assert!(is_auto_submitted(Some("auto-generated; owner-email=x@example.org")));
    assert!(is_auto_submitted(Some(" Auto-Notified ")));
    assert!(is_auto_submitted(Some("(comment) auto-replied")));
    assert!(!is_auto_submitted(Some("no")));
    assert!(!is_auto_submitted(Some("No")));
    assert!(!is_auto_submitted(Some(" NO ; x=y")));
    assert!(!is_auto_submitted(Some("no (a human wrote this)")));
    assert!(!is_auto_submitted(Some("")));
    assert!(!is_auto_submitted(None));
}
