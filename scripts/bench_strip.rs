//! Reply-stripping benchmark on adversarial input (see docs/benchmarks.md): built by
//! `scripts/bench-strip.sh`, which puts a copy of the strip module (`maildomain/src/strip/`,
//! of the work tree or of a given revision) beside this file, in a cargo project that brings
//! mail-parser (the module's entity table).
//!
//! For each shape, the input is built at n and 4n bytes; each conversion is run until 0.3 s have
//! passed and timed per run, beside a plain linear scan of the same bytes (lower-casing them and
//! counting `<`, `&` and line ends) measured in the same run. Printed as one table.

#[allow(dead_code)]
mod strip;

use std::hint::black_box;
use std::time::{Duration, Instant};

/// One adversarial shape: its name, how a unit repeats, and which conversion reads it.
struct Shape {
    name: &'static str,
    build: fn(usize) -> String,
    html: bool,
}

fn repeat_to(unit: &str, bytes: usize) -> String {
    unit.repeat(bytes.div_ceil(unit.len()).max(1))
}

const SHAPES: &[Shape] = &[
    Shape { name: "unclosed <head>", build: |n| repeat_to("<head>", n), html: true },
    Shape { name: "self-closed <head/>", build: |n| repeat_to("<head/>x", n), html: true },
    Shape { name: "'&' far from ';'", build: |n| repeat_to("&x ", n) + ";", html: true },
    Shape { name: "unclosed quoted attributes", build: |n| repeat_to("<a b='>", n), html: true },
    Shape { name: "unclosed comments", build: |n| repeat_to("<!--", n), html: true },
    Shape { name: "<style> without end", build: |n| repeat_to("<style>", n), html: true },
    Shape {
        name: "nested blockquotes",
        build: |n| {
            let half = repeat_to("<blockquote>", n / 2);
            let depth = half.len() / "<blockquote>".len();
            half + "x" + &"</blockquote>".repeat(depth)
        },
        html: true,
    },
    Shape {
        name: "giant attribute",
        build: |n| format!("<div class=\"{}\">Oui</div>", "a".repeat(n)),
        html: true,
    },
    Shape {
        name: "realistic Gmail reply",
        build: |n| {
            let unit = "<div dir=\"ltr\">Bonjour&nbsp;à tous,<br>on se retrouve <b>jeudi</b>.</div>\
                        <div class=\"gmail_quote\"><div>Le lun. 23 nov. 2026 à 18:02, Paul a écrit&nbsp;:<br></div>\
                        <blockquote class=\"gmail_quote\" style=\"margin:0 0 0 .8ex\">Qui vient ?</blockquote></div>\n";
            repeat_to(unit, n)
        },
        html: true,
    },
    Shape {
        name: "text: blank + attribution, repeated",
        build: |n| repeat_to("\nLe 23/11/2026 à 18:02, P a écrit :\n", n),
        html: false,
    },
    Shape { name: "text: thousands of quote levels", build: |n| repeat_to(">", n) + " x\nOui", html: false },
    Shape {
        name: "text: realistic reply",
        build: |n| {
            let unit = "Oui, je viens.\n\nLe 23/11/2026 à 18:02, Paul <paul@example.org> a écrit :\n> Qui vient ?\n> Paul\n";
            repeat_to(unit, n)
        },
        html: false,
    },
];

const BUDGET: Duration = Duration::from_millis(300);

/// Seconds per run of `f`, run until `BUDGET` has passed (at least once).
fn per_run(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut runs = 0u32;
    while runs == 0 || start.elapsed() < BUDGET {
        f();
        runs += 1;
    }
    start.elapsed().as_secs_f64() / f64::from(runs)
}

/// The baseline: one plain pass over the bytes.
fn scan(input: &str) -> usize {
    let lower = input.to_ascii_lowercase();
    lower.bytes().filter(|b| matches!(b, b'<' | b'&' | b'\n')).count()
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(16 * 1024);
    println!("n = {n} bytes; times per run; ratio = conversion / plain scan of the same bytes");
    println!(
        "| shape | conversion at n | at 4n | 4n / n | plain scan at 4n | conversion / scan at 4n | output bytes at 4n |"
    );
    println!("|---|---|---|---|---|---|---|");
    for shape in SHAPES {
        let small = (shape.build)(n);
        let large = (shape.build)(4 * n);
        let convert = |input: &str| {
            if shape.html { strip::strip_reply(&strip::html_to_text(input)) } else { strip::strip_reply(input) }
        };
        let t_small = per_run(|| {
            black_box(convert(black_box(&small)));
        });
        let t_large = per_run(|| {
            black_box(convert(black_box(&large)));
        });
        let t_scan = per_run(|| {
            black_box(scan(black_box(&large)));
        });
        let out = convert(&large).len();
        println!(
            "| {} | {:.3} ms | {:.3} ms | {:.1} | {:.3} ms | {:.1} | {out} |",
            shape.name,
            t_small * 1e3,
            t_large * 1e3,
            t_large / t_small,
            t_scan * 1e3,
            t_large / t_scan,
        );
    }
}
