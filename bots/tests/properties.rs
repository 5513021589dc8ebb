//! Property tests of the command language (`!commande "argument" --option valeur`): whatever a
//! member types, `parse` never panics and either reads a command, says it is ordinary chat, or
//! says a quote is left open; quoted words come back as they were written. 256 cases each.

use proptest::prelude::*;
use relais_bots::command::{ParseError, parse, split_options};

/// Pieces that steer the tokenizer into its corners: every kind of quote, options, spaces.
const FRAGMENTS: &[&str] = &[
    "!",
    "!diffuser",
    "!sondage",
    "\"",
    "“",
    "”",
    "«",
    "»",
    " ",
    "\u{a0}",
    "\t",
    "\n",
    "--",
    "--à",
    "--toutes",
    "18:30",
    "é",
    "日本",
    "x",
];

fn soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![3 => prop::sample::select(FRAGMENTS).prop_map(str::to_owned), 1 => ".{0,5}"];
    prop::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

fn check(body: &str) -> Result<(), TestCaseError> {
    match parse(body) {
        Ok(None) => {
            let start = body.trim_start();
            prop_assert!(!start.starts_with('!') || !start[1..].starts_with(char::is_alphabetic));
        }
        Ok(Some(invocation)) => {
            prop_assert!(!invocation.name.is_empty());
            prop_assert_eq!(invocation.name.to_lowercase(), invocation.name.clone());
            // The flags and values split never panics; a missing value is an error, not a panic.
            let _ = split_options(&invocation.words, &["toutes"]);
        }
        Err(ParseError::UnterminatedQuote) => {
            prop_assert!(body.contains(['"', '“', '«']), "no quote in {body:?}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_text(body in any::<String>()) {
        check(&body)?;
        check(&format!("!a {body}"))?;
    }

    #[test]
    fn fragment_soup(body in soup()) {
        check(&body)?;
    }

    #[test]
    fn quoted_words_come_back(words in prop::collection::vec("[^\"“”«» \\s]{1,8}( [^\"“”«» \\s]{1,8}){0,2}", 1..5)) {
        let typed = words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(" ");
        let invocation = parse(&format!("!cmd {typed}")).expect("closed quotes").expect("a command");
        prop_assert_eq!(invocation.name, "cmd");
        prop_assert_eq!(invocation.words, words);
    }
}
