//! One HTML tag as the reply converter sees it: its name, its `id` and `class`, and what they
//! mean to a mail reader (void elements, blocks, the quote containers of mail clients).

/// Elements that never have content or an end tag.
const VOID: &[&str] =
    &["br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source", "embed", "param"];

/// Elements that start a new line when they open and when they close.
pub(super) const BLOCKS: &[&str] = &[
    "div", "p", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "pre", "section", "article", "header", "footer", "address", "center", "body", "form", "fieldset",
    "figure", "main", "aside", "nav",
];

/// Classes of the elements holding the quoted original (Gmail, Thunderbird, Yahoo).
const QUOTE_CLASSES: &[&str] = &["gmail_quote", "gmail_quote_container", "moz-cite-prefix", "yahoo_quoted"];

/// Ids of the elements holding the quoted original (new Outlook).
const QUOTE_IDS: &[&str] = &["mail-editor-reference-message-container"];

/// Ids of the elements from which on everything is the quoted original (Outlook on the web and
/// desktop; "x_" prefixed when a message was quoted again).
const CUT_IDS: &[&str] = &["divrplyfwdmsg", "appendonsend"];

/// One opening or closing tag.
#[derive(Debug)]
pub(super) struct Tag {
    /// Lower-case name ("div", "o:p").
    pub(super) name: String,
    pub(super) closing: bool,
    pub(super) self_closing: bool,
    /// Lower-case `id` attribute.
    pub(super) id: String,
    /// Lower-case `class` attribute.
    pub(super) class: String,
    /// Byte offset just after the tag's `>`.
    pub(super) end: usize,
}

impl Tag {
    pub(super) fn is_void(&self) -> bool {
        self.self_closing || VOID.contains(&self.name.as_str())
    }

    pub(super) fn has_class(&self, wanted: &[&str]) -> bool {
        self.class.split_ascii_whitespace().any(|c| wanted.contains(&c))
    }

    pub(super) fn is_quote_container(&self) -> bool {
        self.name == "blockquote" || self.has_class(QUOTE_CLASSES) || QUOTE_IDS.contains(&self.id.as_str())
    }

    pub(super) fn is_cut(&self) -> bool {
        !self.id.is_empty() && CUT_IDS.iter().any(|id| self.id.contains(id))
    }
}

/// The `id` and `class` values among a tag's (lower-case) attributes.
pub(super) fn id_and_class(attributes: &str) -> (String, String) {
    let (mut id, mut class) = (String::new(), String::new());
    let mut rest = attributes;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if rest.is_empty() {
            return (id, class);
        }
        let name_len = rest.find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '/');
        let name_len = name_len.unwrap_or(rest.len());
        if name_len == 0 {
            // A stray '='.
            rest = &rest[1..];
            continue;
        }
        let name = &rest[..name_len];
        rest = rest[name_len..].trim_start();
        let mut value = "";
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            if let Some(quote) = after.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let body = &after[1..];
                let end = body.find(quote).unwrap_or(body.len());
                value = &body[..end];
                rest = body.get(end + 1..).unwrap_or_default();
            } else {
                let end = after.find(|c: char| c.is_ascii_whitespace()).unwrap_or(after.len());
                value = &after[..end];
                rest = &after[end..];
            }
        }
        match name {
            "id" => value.clone_into(&mut id),
            "class" => value.clone_into(&mut class),
            _ => {}
        }
    }
}
