//! `format=flowed` text (RFC 3676), as Thunderbird and some webmails send it by default: lines
//! wrapped at about 72 characters end with a space ("soft" breaks) and are joined again here,
//! so a sentence reaches the room whole; lines that began with a space, ">" or "From " were
//! "space-stuffed" and lose that space. Quoted lines join only lines of the same quote depth.
//! Linear in its input, standard library only.

use super::count;

/// Splits a flowed line into its quote depth and its content (unstuffed).
fn parts(line: &str) -> (usize, &str) {
    let depth = line.bytes().take_while(|&b| b == b'>').count();
    let content = &line[depth..];
    (depth, content.strip_prefix(' ').unwrap_or(content))
}

/// The text of a `format=flowed` body: soft breaks joined, stuffing removed. With `delsp`
/// (`DelSp=yes`), the space that marks a soft break is not part of the text.
pub fn unflow(text: &str, delsp: bool) -> String {
    count(text.len());
    let mut out = String::with_capacity(text.len());
    // The quote depth of the paragraph being joined, while its last line was a soft break.
    let mut open: Option<usize> = None;
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let (depth, content) = parts(line);
        match open {
            Some(d) if d == depth => {}
            Some(_) => out.push('\n'),
            None => {}
        }
        if open != Some(depth) && depth > 0 {
            out.push_str(&">".repeat(depth));
            if !content.is_empty() {
                out.push(' ');
            }
        }
        // The signature separator "-- " is never a soft break.
        let soft = content.ends_with(' ') && content != "-- ";
        if soft {
            out.push_str(if delsp { &content[..content.len() - 1] } else { content });
            open = Some(depth);
        } else {
            out.push_str(content);
            out.push('\n');
            open = None;
        }
    }
    // A final soft break, or the newline after the last line, is not part of the text.
    while out.ends_with('\n') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::unflow;

    #[test]
    fn soft_breaks_join_and_stuffing_goes() {
        let flowed =
            "Je serai là dimanche dès 8h30, je \r\nviendrai avec la table. \r\nMerci\r\n\r\n From Lille.\r\n";
        assert_eq!(
            unflow(flowed, false),
            "Je serai là dimanche dès 8h30, je viendrai avec la table. Merci\n\nFrom Lille."
        );
        assert_eq!(unflow("mots coup\u{e9}s \nen deux", true), "mots coup\u{e9}sen deux");
    }

    #[test]
    fn quotes_join_at_their_own_depth_and_signatures_stay_apart() {
        let flowed = "> Qui vient dimanche ? Il faudrait deux \n> personnes de plus. \n>> plus ancien \n>> texte\nMoi.\n-- \nKarim";
        assert_eq!(
            unflow(flowed, false),
            "> Qui vient dimanche ? Il faudrait deux personnes de plus. \n>> plus ancien texte\nMoi.\n-- \nKarim"
        );
        // A soft break before a line of another depth ends its paragraph there.
        assert_eq!(unflow("texte \n> cité", false), "texte \n> cité");
        assert_eq!(unflow("", false), "");
        assert_eq!(unflow(">>>", false), ">>>");
    }
}
