//! The command language: `!commande sous-commande "argument avec espaces" --option valeur`.
//!
//! Phones replace straight quotes with typographic ones, so “…” and « … » quote too.

/// A command as typed, before the command itself interprets its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Lower-cased name without the `!`.
    pub name: String,
    /// The words after the name, quotes removed.
    pub words: Vec<String>,
}

/// Why a message that looks like a command cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unterminated quote")]
    UnterminatedQuote,
}

/// Reads `body` as a command, or `None` when it is ordinary chat (no leading `!` + letter).
pub fn parse(body: &str) -> Result<Option<Invocation>, ParseError> {
    let body = body.trim_start();
    let Some(rest) = body.strip_prefix('!') else {
        return Ok(None);
    };
    if !rest.chars().next().is_some_and(char::is_alphabetic) {
        return Ok(None);
    }
    let mut words = tokenize(rest)?;
    let name = words.remove(0).to_lowercase();
    Ok(Some(Invocation { name, words }))
}

fn closing_quote(open: char) -> Option<char> {
    match open {
        '"' => Some('"'),
        '“' => Some('”'),
        '«' => Some('»'),
        _ => None,
    }
}

fn tokenize(text: &str) -> Result<Vec<String>, ParseError> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if let Some(close) = closing_quote(c) {
            chars.next();
            let mut word = String::new();
            loop {
                match chars.next() {
                    Some(ch) if ch == close || (close == '"' && ch == '”') => break,
                    Some(ch) => word.push(ch),
                    None => return Err(ParseError::UnterminatedQuote),
                }
            }
            // « Guillemets » carry inner spaces by French typography; trim them.
            words.push(word.trim().to_owned());
            continue;
        }
        let mut word = String::new();
        while let Some(&ch) = chars.peek() {
            if ch.is_whitespace() {
                break;
            }
            word.push(ch);
            chars.next();
        }
        words.push(word);
    }
    Ok(words)
}

/// Options (`--name value`, or a bare `--flag` listed in `flags`) split from positional words.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Options {
    pub positional: Vec<String>,
    pub named: Vec<(String, Option<String>)>,
}

impl Options {
    /// The value of option `name`, if given with a value.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.named.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.as_deref())
    }

    /// Whether flag `name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.named.iter().any(|(n, _)| n == name)
    }

    /// The first option not in `known`, to refuse rather than ignore it.
    pub fn unknown(&self, known: &[&str]) -> Option<&str> {
        self.named.iter().map(|(n, _)| n.as_str()).find(|n| !known.contains(n))
    }
}

/// Why options cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    #[error("option --{0} needs a value")]
    MissingValue(String),
}

/// Splits `words` into positional arguments and options; `flags` take no value.
pub fn split_options(words: &[String], flags: &[&str]) -> Result<Options, OptionError> {
    let mut out = Options::default();
    let mut iter = words.iter();
    while let Some(word) = iter.next() {
        let Some(name) = word.strip_prefix("--").filter(|n| !n.is_empty()) else {
            out.positional.push(word.clone());
            continue;
        };
        let name = name.to_lowercase();
        if flags.contains(&name.as_str()) {
            out.named.push((name, None));
            continue;
        }
        match iter.next() {
            Some(value) => out.named.push((name, Some(value.clone()))),
            None => return Err(OptionError::MissingValue(name)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_options_are_found() {
        let words: Vec<String> =
            ["--toutes", "--à", "18:30", "--couleur", "rouge"].iter().map(|w| (*w).to_owned()).collect();
        let options = split_options(&words, &["toutes"]).expect("options");
        assert_eq!(options.unknown(&["toutes", "à"]), Some("couleur"));
        assert_eq!(options.unknown(&["toutes", "à", "couleur"]), None);
    }

    fn words(body: &str) -> (String, Vec<String>) {
        let inv = parse(body).expect("parses").expect("is a command");
        (inv.name, inv.words)
    }

    #[test]
    fn plain_chat_is_not_a_command() {
        for body in ["bonjour", "! pas une commande", "!!", "> <@a:b> !aide", "!123", ""] {
            assert_eq!(parse(body), Ok(None), "{body:?}");
        }
    }

    #[test]
    fn quotes_of_every_kind_group_words() {
        let (name, w) = words(r#"!Sondage "Quelle date ?" “Le 12” « Le 19 » --choix 2 --secret"#);
        assert_eq!(name, "sondage");
        assert_eq!(w, ["Quelle date ?", "Le 12", "Le 19", "--choix", "2", "--secret"]);
        let (_, w) = words("  !aide   sondage  ");
        assert_eq!(w, ["sondage"]);
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        assert_eq!(parse(r#"!sondage "Question"#), Err(ParseError::UnterminatedQuote));
    }

    #[test]
    fn options_split_from_arguments() {
        let (_, w) = words(r#"!sondage "Q ?" "A" "B" --choix 2 --secret --jusqu'à "2026-12-01 18:00""#);
        let opts = split_options(&w, &["secret"]).expect("valid");
        assert_eq!(opts.positional, ["Q ?", "A", "B"]);
        assert_eq!(opts.value("choix"), Some("2"));
        assert_eq!(opts.value("jusqu'à"), Some("2026-12-01 18:00"));
        assert!(opts.flag("secret"));
        let err = split_options(&["--choix".to_owned()], &[]).expect_err("no value");
        assert_eq!(err, OptionError::MissingValue("choix".into()));
    }
}
