//! Our HTML-to-text pass against the libraries the issue suggested (see docs/benchmarks.md,
//! "html5ever"): built by `scripts/bench-html-libs.sh`, which puts a copy of the strip module
//! beside this file and a Cargo.toml that brings html5ever and mail-parser from the registry.
//!
//! For each HTML shape, at 4n bytes: our `html_to_text` (structure kept: blocks, lists,
//! quotes), html5ever's tokenizer alone feeding a sink that keeps only the text (the least any
//! html5ever-based conversion must do: a tree builder and our block logic would come on top),
//! and mail-parser's `html_to_text`. Each run is repeated for 0.3 s.

#[allow(dead_code)]
mod strip;

use std::cell::RefCell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{
    BufferQueue, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

fn repeat_to(unit: &str, bytes: usize) -> String {
    unit.repeat(bytes.div_ceil(unit.len()).max(1))
}

const SHAPES: &[(&str, fn(usize) -> String)] = &[
    ("unclosed <head>", |n| repeat_to("<head>", n)),
    ("self-closed <head/>", |n| repeat_to("<head/>x", n)),
    ("'&' far from ';'", |n| repeat_to("&x ", n) + ";"),
    ("named entities", |n| repeat_to("&eacute;&hellip;&nbsp;&rarr;", n)),
    ("unclosed quoted attributes", |n| repeat_to("<a b='>", n)),
    ("unclosed comments", |n| repeat_to("<!--", n)),
    ("<style> without end", |n| repeat_to("<style>", n)),
    ("nested blockquotes", |n| {
        let half = repeat_to("<blockquote>", n / 2);
        let depth = half.len() / "<blockquote>".len();
        half + "x" + &"</blockquote>".repeat(depth)
    }),
    ("giant attribute", |n| format!("<div class=\"{}\">Oui</div>", "a".repeat(n))),
    ("realistic Gmail reply", |n| {
        let unit = "<div dir=\"ltr\">Bonjour&nbsp;à tous,<br>on se retrouve <b>jeudi</b>.</div>\
                    <div class=\"gmail_quote\"><div>Le lun. 23 nov. 2026 à 18:02, Paul a écrit&nbsp;:<br></div>\
                    <blockquote class=\"gmail_quote\" style=\"margin:0 0 0 .8ex\">Qui vient ?</blockquote></div>\n";
        repeat_to(unit, n)
    }),
];

const BUDGET: Duration = Duration::from_millis(300);

fn per_run(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut runs = 0u32;
    while runs == 0 || start.elapsed() < BUDGET {
        f();
        runs += 1;
    }
    start.elapsed().as_secs_f64() / f64::from(runs)
}

/// Keeps the character tokens, drops the rest.
struct TextSink(RefCell<String>);

impl TokenSink for TextSink {
    type Handle = ();
    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        if let Token::CharacterTokens(text) = token {
            self.0.borrow_mut().push_str(&text);
        }
        TokenSinkResult::Continue
    }
}

fn html5ever_text(input: &str) -> String {
    let tokenizer = Tokenizer::new(TextSink(RefCell::new(String::new())), TokenizerOpts::default());
    let queue = BufferQueue::default();
    queue.push_back(StrTendril::from_slice(input));
    let _ = tokenizer.feed(&queue);
    tokenizer.end();
    tokenizer.sink.0.take()
}

/// What each makes of one realistic reply: the quoted history must be told apart to be cut.
fn show_one_reply() {
    if let Some((_, build)) = SHAPES.iter().find(|(name, _)| *name == "realistic Gmail reply") {
        let reply = build(1);
        println!("one Gmail reply, ours: {:?}", strip::html_to_text(&reply));
        println!("one Gmail reply, mail-parser: {:?}", mail_parser::decoders::html::html_to_text(&reply));
    }
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(16 * 1024);
    println!("input = 4 × {n} bytes; milliseconds per run; ratio = library / ours");
    show_one_reply();
    println!("| shape | ours | html5ever tokenizer only | ratio | mail-parser html_to_text | ratio |");
    println!("|---|---|---|---|---|---|");
    for (name, build) in SHAPES {
        let input = build(4 * n);
        let ours = per_run(|| {
            black_box(strip::html_to_text(black_box(&input)));
        });
        let h5 = per_run(|| {
            black_box(html5ever_text(black_box(&input)));
        });
        let mp = per_run(|| {
            black_box(mail_parser::decoders::html::html_to_text(black_box(&input)));
        });
        println!(
            "| {name} | {:.3} | {:.3} | {:.1} | {:.3} | {:.1} |",
            ours * 1e3,
            h5 * 1e3,
            h5 / ours,
            mp * 1e3,
            mp / ours
        );
    }
}
