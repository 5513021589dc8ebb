//! Reply stripping and HTML conversion on the clients members use, and their budgets.

use super::*;

#[test]
fn strip_empty_and_blank_input_gives_empty() {
    assert_eq!(strip_reply(""), "");
    assert_eq!(strip_reply("\n\n  \r\n\t\n"), "");
    assert_eq!(strip_reply("\u{feff}"), "");
}

#[test]
fn strip_all_quoted_input_gives_empty() {
    assert_eq!(strip_reply("> tout cité\n>\n> encore"), "");
    assert_eq!(strip_reply("\nLe 23/11/2026 à 18:02, Paul Durand a écrit :\n> Qui vient ?\n"), "");
    assert_eq!(strip_reply("Sent from my iPhone\n\n> On 23 Nov 2026, at 18:02, Paul wrote:\n> Hi"), "");
    assert_eq!(strip_reply("-- \nJeanne\n\n> Paul wrote:\n> Hi"), "");
}

#[test]
fn strip_crlf_and_cr_line_ends() {
    let text = "Oui.\r\n\r\nÀ jeudi.\r\n\r\nLe lun. 23 nov. 2026 à 18:02, Jeanne <j@example.org> a écrit :\r\n> Q ?\r\n";
    assert_eq!(strip_reply(text), "Oui.\n\nÀ jeudi.");
    assert_eq!(strip_reply("Oui.\rNon.\r\r\r-- \rJeanne"), "Oui.\nNon.");
}

#[test]
fn strip_keeps_inner_paragraphs_and_collapses_blank_runs() {
    assert_eq!(strip_reply("\n\n  Un\n\n\n\nDeux   \n  trois\n\n"), "  Un\n\nDeux\n  trois");
}

#[test]
fn strip_keeps_prose_mentioning_a_ecrit() {
    let prose = "Paul a écrit un tract magnifique.\nBravo.";
    assert_eq!(strip_reply(prose), prose);
    let quoting = "Voici ce que Jeanne a écrit :\n\n« Rendez-vous samedi. »\n\nJ'approuve.";
    assert_eq!(strip_reply(quoting), quoting);
    let le = "Le camarade Paul a écrit :\nune belle lettre.";
    assert_eq!(strip_reply(le), le);
    let on = "On a écrit :\n« Non à la fermeture »";
    assert_eq!(strip_reply(on), on);
}

#[test]
fn strip_wrapped_attributions() {
    let gmail =
        "Oui\n\nLe lun. 23 nov. 2026 à 18:02, Jeanne Martin <jeanne.martin@example.org> a\nécrit :\n\n> Q";
    assert_eq!(strip_reply(gmail), "Oui");
    let three = "Oui\nLe lun. 23 nov. 2026 à 18:02, Jeanne\nMartin (via Relais) <nord@listes.example.org>\na écrit :\n> Q";
    assert_eq!(strip_reply(three), "Oui");
    let en = "Yes\n\nOn Mon, Nov 23, 2026 at 6:02\u{202f}PM Jeanne Martin <\njeanne@example.org> wrote:\n> Q";
    assert_eq!(strip_reply(en), "Yes");
}

#[test]
fn strip_does_not_take_prose_above_for_an_attribution_head() {
    let text = "Le bureau se réunit jeudi à 18:30.\nJeanne Martin <jeanne@example.org> a écrit :\n> Q";
    assert_eq!(strip_reply(text), "Le bureau se réunit jeudi à 18:30.");
}

#[test]
fn strip_bottom_posting_keeps_the_answer_below() {
    let text = "Le 23/11/2026 à 18:02, Paul a écrit :\n> Qui vient ?\n> Paul\n\nMoi !\n\n-- \nJeanne";
    assert_eq!(strip_reply(text), "Moi !");
    // A header block has no answer below it.
    let outlook = "De : Paul\nEnvoyé : lundi\nÀ : Jeanne\nObjet : Réunion\n\nQui vient ?";
    assert_eq!(strip_reply(outlook), "");
}

#[test]
fn strip_header_block_needs_a_subject() {
    let itinerary = "Le trajet :\nDe : Lille\nÀ : Paris\nDate : 12 décembre\n\nRendez-vous en gare.";
    assert_eq!(strip_reply(itinerary), itinerary);
    let starred = "Ok\n\n*From:* Paul\n*Sent:* Monday\n*To:* Tom\n*Subject:* Banner\n\nWho?";
    assert_eq!(strip_reply(starred), "Ok");
}

#[test]
fn strip_footers_only_at_the_end() {
    assert_eq!(strip_reply("D'accord\n\nEnvoyé de mon iPhone\n"), "D'accord");
    assert_eq!(
        strip_reply("D'accord\nSent from my iPhone\nGet Outlook for iOS<https://aka.ms/o0ukef>"),
        "D'accord"
    );
    let middle = "Envoyé de mon iPhone, je ne peux pas tout relire.\nMais je suis d'accord.";
    assert_eq!(strip_reply(middle), middle);
}

#[test]
fn strip_signature_delimiters() {
    assert_eq!(strip_reply("Merci\n-- \nJeanne\nSecrétaire"), "Merci");
    assert_eq!(strip_reply("Merci\n--\nJeanne"), "Merci");
    assert_eq!(strip_reply("Merci\n---\nJeanne"), "Merci\n---\nJeanne");
    assert_eq!(strip_reply("Merci -- à jeudi"), "Merci -- à jeudi");
}

#[test]
fn strip_separators() {
    assert_eq!(strip_reply("Vu.\n-------- Message d’origine --------\nDe : Paul\nPapier"), "Vu.");
    assert_eq!(strip_reply("Vu.\n\n_____________________\nrest"), "Vu.");
    assert_eq!(strip_reply("Vu.\n---------- Forwarded message ---------\nFrom: P"), "Vu.");
    assert_eq!(strip_reply("Titre\n-----\nTexte"), "Titre\n-----\nTexte");
}

#[test]
fn strip_decomposed_accents_in_attribution() {
    let text = "Oui\nLe 23/11/2026 a\u{300} 18:02, Paul a e\u{301}crit :\n> Q";
    assert_eq!(strip_reply(text), "Oui");
}

#[test]
fn html_blocks_breaks_and_paragraphs() {
    assert_eq!(
        html_to_text("<p>Bonjour&nbsp;à tous</p><p>Oui &amp; non <b>é</b></p>"),
        "Bonjour à tous\n\nOui & non é"
    );
    assert_eq!(
        html_to_text("<div>Un</div>\n  <div><br></div>\n<div>Deux<br>trois</div>"),
        "Un\n\nDeux\ntrois"
    );
    let outlook = "<p class=MsoNormal>Un<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Deux</p>";
    assert_eq!(html_to_text(outlook), "Un\n\nDeux");
    assert_eq!(html_to_text("<b>Jean</b> <i>Martin</i>\n   est\tlà"), "Jean Martin est là");
    assert_eq!(html_to_text("<pre>a  b\n  c</pre>"), "a  b\n  c");
    assert_eq!(html_to_text("<ul><li>un</li><li>deux</li></ul>"), "- un\n- deux");
}

#[test]
fn html_entities() {
    assert_eq!(html_to_text("é&#233;&#xE9;&#XE9;&eacute;"), "ééééé");
    assert_eq!(html_to_text("&lt;b&gt; &quot;x&quot; &#39;y&#39; &rsquo;&#146;"), "<b> \"x\" 'y' ’’");
    assert_eq!(html_to_text("&#0; &#xD800; &#99999999; &#x110000;"), "\u{fffd} \u{fffd} \u{fffd} \u{fffd}");
    // 0x80-0x9F as Outlook means them: the Windows-1252 character of that byte.
    assert_eq!(html_to_text("&#128;&#x96;&#156;&#159;"), "€–œŸ");
    assert_eq!(html_to_text("&unknown; &amp &#xZZ; & ; &é; &a-b;"), "&unknown; &amp &#xZZ; & ; &é; &a-b;");
    // Every name of the standard, not only those French mail writes.
    assert_eq!(html_to_text("&hearts; &rarr; &AMP; &CounterClockwiseContourIntegral; &frac12;"), "♥ → & ∳ ½");
}

#[test]
fn html_drops_head_style_script_comments() {
    let html = "<html><head><title>T</title><style>p{color:red}</style></head><body>\
                <!-- c <div>x</div> --><script>if (a<b) { x = \"</div>\"; }</script>Texte</body></html>";
    assert_eq!(html_to_text(html), "Texte");
    assert_eq!(html_to_text("<head><meta charset=utf-8><body>Sans fin de head"), "Sans fin de head");
    assert_eq!(html_to_text("<style>p{}</style>é&#233;&#xE9;"), "ééé");
}

#[test]
fn html_quote_containers() {
    let gmail = "<div>Réponse</div><div class=\"gmail_quote gmail_quote_container\"><div>Le … a écrit</div>\
                 <blockquote class=\"gmail_quote\"><div>cité</div></blockquote></div>";
    assert_eq!(html_to_text(gmail), "Réponse");
    let inline = "<blockquote type=cite><div>Q1<blockquote>Q0</blockquote></div></blockquote>R1<blockquote>Q2</blockquote>R2";
    assert_eq!(html_to_text(inline), "R1\nR2");
    let owa =
        "<div>Oui</div><div id=\"appendonsend\"></div><hr><div id=\"divRplyFwdMsg\">De : P</div><div>Q</div>";
    assert_eq!(html_to_text(owa), "Oui");
    let requoted = "<div>Oui</div><div id=\"x_divRplyFwdMsg\">De : P</div>";
    assert_eq!(html_to_text(requoted), "Oui");
    let new_outlook = "<div>Oui</div><div id=\"mail-editor-reference-message-container\"><div>De : P</div></div><div>Fin</div>";
    assert_eq!(html_to_text(new_outlook), "Oui\nFin");
    // A data attribute naming a quote class is not a quote container.
    assert_eq!(html_to_text("<div data-class=\"gmail_quote\" title='a > b'>Texte</div>"), "Texte");
}

#[test]
fn html_broken_markup_never_panics() {
    assert_eq!(html_to_text("a < b <i"), "a < b <i");
    assert_eq!(html_to_text("x <3 y"), "x <3 y");
    assert_eq!(html_to_text("<div>ouvert <b>gras"), "ouvert gras");
    assert_eq!(html_to_text("texte<!-- jamais fermé <div>x</div>"), "texte");
    assert_eq!(html_to_text("Oui<blockquote>jamais fermé"), "Oui");
    assert_eq!(html_to_text("<div title=\"pas fermé>Texte</div>"), "Texte");
    assert_eq!(html_to_text("<script>sans fin"), "");
    assert_eq!(html_to_text("<"), "<");
    assert_eq!(html_to_text("</"), "</");
    assert_eq!(html_to_text("<>"), "<>");
    assert_eq!(html_to_text("<div =x ==\"y\" id=>z</div>"), "z");
}

#[test]
fn html_multibyte_characters_near_tags() {
    assert_eq!(html_to_text("é<b>è</b>à"), "éèà");
    assert_eq!(html_to_text("<é>ü</é>"), "<é>ü</é>");
    assert_eq!(html_to_text("日本<br>語<div class=\"日\">€</div>"), "日本\n語\n€");
    assert_eq!(html_to_text("<div title=\"«é»\">œ</div>&é;"), "œ\n&é;");
    assert_eq!(html_to_text("Ça<blockquote>ü</blockquote>ß"), "Ça\nß");
}

#[test]
fn html_every_prefix_and_suffix_is_safe() {
    let html = "<html><head><style>p{}</style></head><body><div dir=\"ltr\">Bonjour l’équipe&nbsp;!<br>\
                <b title='a>b'>Réunion</b> à 18&#8239;h</div><!-- c --><div class=\"gmail_quote\">\
                <blockquote>Le 23 nov. 2026 à 18:02, Zoé a écrit&nbsp;:<br>日本</blockquote></div></body></html>";
    for (i, _) in html.char_indices() {
        let _ = strip_reply(&html_to_text(&html[..i]));
        let _ = strip_reply(&html_to_text(&html[i..]));
    }
    assert_eq!(strip_reply(&html_to_text(html)), "Bonjour l’équipe !\nRéunion à 18\u{202f}h");
}

#[test]
fn html_then_strip_apple_mail() {
    let html = "<html><body><div>Ça marche.</div><div><br></div><div>Envoyé de mon iPhone</div>\
                <div><br>Le 23 nov. 2026 à 18:02, Paul &lt;paul@example.org&gt; a écrit&nbsp;:<br><br></div>\
                <blockquote type=\"cite\"><div>Question ?</div></blockquote></body></html>";
    assert_eq!(strip_reply(&html_to_text(html)), "Ça marche.");
}

/// An adversarial shape of input: its name, how to build it at about `n` bytes, whether it
/// is HTML.
type Shape = (&'static str, fn(usize) -> String, bool);

const SHAPES: &[Shape] = &[
    ("unclosed <head>", |n| "<head>".repeat(n / 6), true),
    ("self-closed <head/>", |n| "<head/>x".repeat(n / 8), true),
    ("<head> closed at the very end", |n| "<head>x".repeat(n / 7) + "</head>", true),
    ("'&' far from ';'", |n| "&x ".repeat(n / 3) + ";", true),
    ("unclosed quoted attributes", |n| "<a b='>".repeat(n / 7), true),
    ("quoted '>' in every tag, no end", |n| "<a b=\"x>y\"".repeat(n / 10), true),
    ("unclosed comments", |n| "<!--".repeat(n / 4), true),
    ("<style> without end", |n| "<style>".repeat(n / 7), true),
    ("</style without '>'", |n| "<style></style".repeat(n / 14), true),
    ("nested blockquotes", |n| "<blockquote>".repeat(n / 24) + "x" + &"</blockquote>".repeat(n / 24), true),
    ("unclosed blockquotes", |n| "<blockquote>".repeat(n / 12), true),
    ("giant attribute", |n| format!("<div class=\"{}\">Oui</div>", "a".repeat(n)), true),
    ("many '<' and one '>'", |n| "<a ".repeat(n / 3) + ">", true),
    ("stray '<'", |n| "a < b ".repeat(n / 6), true),
    (
        "text: blank line and attribution, repeated",
        |n| "\nLe 23/11/2026 à 18:02, P a écrit :\n".repeat(n / 38),
        false,
    ),
    ("text: header blocks", |n| "De : P\nObjet : x\nÀ : J\n".repeat(n / 24), false),
    ("text: thousands of quote levels", |n| ">".repeat(n) + " x\nOui", false),
    ("text: long lines", |n| "a".repeat(n) + "\n" + &" ".repeat(n), false),
];

fn convert(input: &str, html: bool) -> String {
    if html { strip_reply(&html_to_text(input)) } else { strip_reply(input) }
}

/// Steps per input byte no conversion exceeds (the shapes above take 1 to 15).
const STEPS_PER_BYTE: u64 = 16;

fn steps_bound(input: &str) -> u64 {
    STEPS_PER_BYTE * (input.len() as u64 + 16)
}

#[test]
fn adversarial_input_takes_linear_work() {
    // Before the one-pass conversion, 16 KiB of unclosed `<head>` took 0.7 s and 64 KiB took
    // 9.4 s (docs/benchmarks.md): each `<head>` searched the rest of the input for its end.
    let n = 16 * 1024;
    for (name, build, html) in SHAPES {
        let (small, large) = (build(n), build(4 * n));
        let (_, work_small) = work_of(|| convert(&small, *html));
        let (_, work_large) = work_of(|| convert(&large, *html));
        assert!(work_large <= steps_bound(&large), "{name}: {work_large} steps for {} bytes", large.len());
        assert!(
            work_large * 10 <= work_small * 45,
            "{name}: 4 times the input took {work_large} steps, against {work_small} (more than 4.5 times)"
        );
    }
}

#[test]
fn fifty_thousand_unclosed_heads_are_ignored_in_one_pass() {
    let html = "<head>".repeat(50_000) + "<div>Texte</div>";
    let (text, work) = work_of(|| html_to_text(&html));
    assert_eq!(text, "Texte");
    assert!(work <= steps_bound(&html), "{work} steps for {} bytes", html.len());
}

#[test]
fn html_heads_drop_their_text_only_when_closed() {
    assert_eq!(html_to_text("<head>A<head>B</head>C"), "AC");
    assert_eq!(html_to_text("<head>A<head>B</head>C</head>D"), "D");
    assert_eq!(html_to_text("<head/>A</head>B"), "B");
    assert_eq!(html_to_text("</head>A<head><p>B</p>"), "A\nB");
    // The state when the `<head>` opened comes back with its end tag: still in `<pre>`.
    assert_eq!(html_to_text("<pre>a <head></pre>b</head>  c"), "a   c");
    assert_eq!(html_to_text("<head><blockquote>Q</blockquote>T</head>R"), "R");
    // A quote container or Outlook's cut inside a closed `<head>` goes with it…
    assert_eq!(html_to_text("<head><blockquote></head>texte</blockquote>plus"), "texteplus");
    assert_eq!(html_to_text("<head><div id=divRplyFwdMsg>x</head>Oui"), "Oui");
    assert_eq!(html_to_text("<head><div id=divRplyFwdMsg>x<p>Oui"), "");
    // … and a `<head>` inside a quote container is part of the quote.
    assert_eq!(html_to_text("<blockquote><head></blockquote>Texte</head>Plus"), "TextePlus");
}

#[test]
fn html_tags_with_quoted_gt() {
    assert_eq!(html_to_text("<a title=\"x>y\" href='a>b'>lien</a> fin"), "lien fin");
    // A quote closed by the next tag's: one tag up to the first `>` outside them.
    assert_eq!(html_to_text("<a b=\"x>y<a b=\"x>z"), "z");
    // A quote that never closes: the first `>` ends the tag.
    assert_eq!(html_to_text("<a b=\"x>y"), "y");
    // Every tag's quote closes in the next tag and no `>` ends any: each ends at its first `>`.
    assert_eq!(html_to_text("<a b=\"x>y\"<a b=\"x>y\""), "y\"y\"");
}

#[test]
fn budget_caps_what_is_read_and_written() {
    let long = "Oui. ".repeat(MAX_TEXT_BYTES / 4);
    let text = strip_reply(&long);
    assert!(text.len() <= MAX_TEXT_BYTES + TRUNCATED.len() && text.ends_with(TRUNCATED), "{}", text.len());
    assert!(text.starts_with("Oui. Oui."));
    let html = format!("<p>{long}</p>");
    let text = strip_reply(&html_to_text(&html));
    assert!(text.len() <= MAX_TEXT_BYTES + TRUNCATED.len() && text.ends_with(TRUNCATED), "{}", text.len());
    // Past the first MAX_INPUT_BYTES nothing is read.
    let padded = "\n".repeat(MAX_INPUT_BYTES) + "Invisible";
    assert_eq!(strip_reply(&padded), "");
    assert_eq!(html_to_text(&(" ".repeat(MAX_INPUT_BYTES) + "Invisible")), "");
    // A cut inside a multi-byte character keeps whole characters.
    let accents = "é".repeat(MAX_INPUT_BYTES);
    assert!(html_to_text(&accents).chars().all(|c| c == 'é'));
    // Short replies are untouched.
    assert_eq!(strip_reply("Oui."), "Oui.");
}
