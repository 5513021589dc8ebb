//! `!sondage "Question ?" "Réponse A" "Réponse B" [--choix N] [--jusqu'à "2026-12-01 18:00"]
//! [--secret] [--quorum N|N%] [--majorité simple|absolue|2/3]`, read into a [`PollSpec`]. Pure.

use serde::{Deserialize, Serialize};

use crate::command::{OptionError, split_options};

/// How many must vote for the result to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quorum {
    Count(u32),
    /// Percent of the eligible voters.
    Percent(u32),
}

impl Quorum {
    /// Whether `voted` of `eligible` reaches it.
    pub fn reached(self, voted: u64, eligible: u64) -> bool {
        match self {
            Self::Count(n) => voted >= u64::from(n),
            Self::Percent(p) => voted * 100 >= eligible * u64::from(p),
        }
    }
}

/// What the winning answer needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Majority {
    /// More votes than any other answer.
    #[default]
    Simple,
    /// More than half of the votes cast.
    Absolute,
    /// At least two thirds of the votes cast.
    TwoThirds,
}

/// A poll as asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollSpec {
    pub question: String,
    pub answers: Vec<String>,
    pub max_selections: u32,
    /// UTC ms.
    pub deadline: Option<i64>,
    pub secret: bool,
    pub quorum: Option<Quorum>,
    pub majority: Majority,
    /// Congress mode: voters and their weights from the mandates file, signed minutes.
    #[serde(default)]
    pub congress: bool,
}

/// Why a `!sondage` cannot be read; every message says what to write instead (in French).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("Il faut une question et au moins deux réponses, chacune entre guillemets.")]
    TooFewAnswers,
    #[error("Vingt réponses au plus.")]
    TooManyAnswers,
    #[error("--choix attend un nombre entre 1 et le nombre de réponses.")]
    Choices,
    #[error(
        "--jusqu'à attend une date « AAAA-MM-JJ HH:MM » (heure de Paris) ou une durée (« 30min », « 2h », « 3j »), dans le futur."
    )]
    Deadline,
    #[error("--quorum attend un nombre de votants (« 20 ») ou un pourcentage (« 25% »).")]
    Quorum,
    #[error("--majorité attend « simple », « absolue » ou « 2/3 ».")]
    Majority,
    #[error("Option inconnue : --{0}.")]
    UnknownOption(String),
    #[error("L'option --{0} attend une valeur.")]
    MissingValue(String),
}

impl From<OptionError> for SpecError {
    fn from(e: OptionError) -> Self {
        match e {
            OptionError::MissingValue(name) => Self::MissingValue(name),
        }
    }
}

/// A duration such as `30min`, `2h`, `3j`, `45s` in ms.
pub fn duration_ms(text: &str) -> Option<i64> {
    let text = text.trim().to_lowercase();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().ok()?;
    let unit_ms = match unit.trim() {
        "s" | "sec" => 1_000,
        "min" | "m" => 60_000,
        "h" => 3_600_000,
        "j" | "d" | "jours" | "jour" => 86_400_000,
        _ => return None,
    };
    Some(n * unit_ms)
}

/// Reads the words after `!sondage` at time `now` (UTC ms).
pub fn parse(words: &[String], now: i64) -> Result<PollSpec, SpecError> {
    let options = split_options(words, &["secret", "congrès", "congres", "congress"])?;
    let mut positional = options.positional.iter().map(|w| w.trim().to_owned()).filter(|w| !w.is_empty());
    let question = positional.next().ok_or(SpecError::TooFewAnswers)?;
    let answers: Vec<String> = positional.collect();
    if answers.len() < 2 {
        return Err(SpecError::TooFewAnswers);
    }
    if answers.len() > 20 {
        return Err(SpecError::TooManyAnswers);
    }
    let mut spec = PollSpec {
        question,
        max_selections: 1,
        answers,
        deadline: None,
        secret: false,
        quorum: None,
        majority: Majority::Simple,
        congress: false,
    };
    for (name, value) in &options.named {
        let value = value.as_deref().unwrap_or("");
        match name.as_str() {
            "choix" | "choices" => {
                spec.max_selections = value.parse().map_err(|_| SpecError::Choices)?;
                if spec.max_selections == 0 || spec.max_selections as usize > spec.answers.len() {
                    return Err(SpecError::Choices);
                }
            }
            "jusqu'à" | "jusqua" | "jusqu'a" | "jusqu’à" | "until" => {
                let at = duration_ms(value)
                    .map(|d| now + d)
                    .or_else(|| relais_core::time::parse_paris(value))
                    .ok_or(SpecError::Deadline)?;
                if at <= now {
                    return Err(SpecError::Deadline);
                }
                spec.deadline = Some(at);
            }
            "secret" => spec.secret = true,
            "congrès" | "congres" | "congress" => spec.congress = true,
            "quorum" => {
                spec.quorum = Some(match value.strip_suffix('%') {
                    Some(p) => {
                        Quorum::Percent(p.trim().parse().ok().filter(|p| *p <= 100).ok_or(SpecError::Quorum)?)
                    }
                    None => Quorum::Count(value.parse().map_err(|_| SpecError::Quorum)?),
                });
            }
            "majorité" | "majorite" | "majority" => {
                spec.majority = match value.to_lowercase().as_str() {
                    "simple" | "relative" => Majority::Simple,
                    "absolue" | "absolute" => Majority::Absolute,
                    "2/3" | "deux-tiers" | "qualifiée" => Majority::TwoThirds,
                    _ => return Err(SpecError::Majority),
                }
            }
            other => return Err(SpecError::UnknownOption(other.to_owned())),
        }
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command;

    fn words(body: &str) -> Vec<String> {
        command::parse(body).expect("parses").expect("command").words
    }

    #[test]
    fn a_full_poll_is_read() {
        let now = relais_core::time::parse_paris("2026-11-24 09:00").expect("now");
        let spec = parse(
            &words("!sondage « Date de l'AG ? » \"Le 12\" \"Le 19\" \"Le 26\" --choix 2 --jusqu'à \"2026-12-01 18:00\" --quorum 25% --majorité absolue"),
            now,
        )
        .expect("valid");
        assert_eq!(spec.question, "Date de l'AG ?");
        assert_eq!(spec.answers, ["Le 12", "Le 19", "Le 26"]);
        assert_eq!(spec.max_selections, 2);
        assert_eq!(spec.deadline, relais_core::time::parse_paris("2026-12-01 18:00"));
        assert_eq!(
            (spec.quorum, spec.majority, spec.secret),
            (Some(Quorum::Percent(25)), Majority::Absolute, false)
        );
        assert!(parse(&words("!sondage Q A B --congrès"), now).expect("congress").congress);
        let short = parse(&words("!sondage Q A B --jusqu'à 30min --secret --quorum 3"), now).expect("valid");
        assert_eq!(
            (short.deadline, short.secret, short.quorum),
            (Some(now + 1_800_000), true, Some(Quorum::Count(3)))
        );
    }

    #[test]
    fn mistakes_say_what_to_write() {
        let now = 0;
        assert_eq!(parse(&words("!sondage \"Q ?\" \"A\""), now), Err(SpecError::TooFewAnswers));
        assert_eq!(parse(&words("!sondage Q A B --choix 3"), now), Err(SpecError::Choices));
        assert_eq!(parse(&words("!sondage Q A B --jusqu'à demain"), now), Err(SpecError::Deadline));
        assert_eq!(parse(&words("!sondage Q A B --quorum beaucoup"), now), Err(SpecError::Quorum));
        assert_eq!(parse(&words("!sondage Q A B --majorité forte"), now), Err(SpecError::Majority));
        assert_eq!(
            parse(&words("!sondage Q A B --couleur rouge"), now),
            Err(SpecError::UnknownOption("couleur".into()))
        );
        assert_eq!(
            parse(&words("!sondage Q A B --quorum"), now),
            Err(SpecError::MissingValue("quorum".into()))
        );
        assert!(SpecError::Deadline.to_string().contains("AAAA-MM-JJ HH:MM"));
    }

    #[test]
    fn quorum_counts_and_percentages() {
        assert!(Quorum::Count(3).reached(3, 10) && !Quorum::Count(3).reached(2, 10));
        assert!(Quorum::Percent(25).reached(25, 100) && !Quorum::Percent(25).reached(24, 100));
    }
}
