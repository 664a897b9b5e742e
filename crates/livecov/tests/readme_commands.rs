//! Every `livecov …` command line in README.md's code blocks is one the binary accepts,
//! and every subcommand it names is listed in its parent's help.
//!
//! A README line is usage, not a literal command: `[…]` marks an optional part, `a|b`
//! and `x | y` alternatives, `]...` repetition, `# …` a comment. Each line is expanded
//! into command lines that together take every optional part and every alternative once;
//! each is run with `--help` appended (`-h` for `livecov go`, which takes Go's flag
//! syntax), so clap checks flag names and values but runs nothing.

use std::path::Path;
use std::process::Command;

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The argument lists (without the program name) of the `livecov` lines in fenced code
/// blocks, with their README line numbers. `cargo run … -p livecov -- ARGS` counts too.
fn readme_commands(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_block = false;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if !in_block {
            continue;
        }
        let line = strip_comment(line);
        if let Some(args) = line.strip_prefix("livecov ") {
            out.push((i + 1, args.trim().to_owned()));
        } else if let Some((_, args)) = line
            .strip_prefix("cargo run ")
            .filter(|l| l.contains("-p livecov "))
            .and_then(|l| l.split_once(" -- "))
        {
            out.push((i + 1, args.trim().to_owned()));
        }
    }
    out
}

/// The line without a shell comment (`#` after whitespace, outside quotes).
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    let mut prev_space = false;
    for (i, c) in line.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '#' if prev_space && !quoted => return line[..i].trim_end(),
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// Words split on whitespace outside single quotes; quotes are kept (removed after
/// expansion, so a quoted `|` is no alternative).
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c.is_whitespace() && !quoted {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// One place of a usage line: its alternatives, each a sequence of words.
type Choice = Vec<Vec<String>>;

/// Alternatives inside one word (`sum|max`), outside quotes.
fn word_choice(word: &str) -> Choice {
    if word.contains('\'') || !word.contains('|') {
        return vec![vec![word.to_owned()]];
    }
    word.split('|').map(|w| vec![w.to_owned()]).collect()
}

/// A usage line as a sequence of choices.
fn choices(usage: &str) -> Vec<Choice> {
    let words = words(usage);
    let mut out: Vec<Choice> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        if let Some(first) = w.strip_prefix('[') {
            // An optional group: taken, with each of its ` | ` alternatives once.
            let mut group = vec![first.to_owned()];
            while !group.last().unwrap().trim_end_matches("...").ends_with(']') {
                i += 1;
                group.push(
                    words
                        .get(i)
                        .unwrap_or_else(|| panic!("unclosed [ in {usage:?}"))
                        .clone(),
                );
            }
            let last = group.pop().unwrap();
            group.push(
                last.trim_end_matches("...")
                    .trim_end_matches(']')
                    .to_owned(),
            );
            let mut alternatives = vec![Vec::new()];
            for g in group.into_iter().filter(|g| !g.is_empty()) {
                if g == "|" {
                    alternatives.push(Vec::new());
                } else {
                    alternatives.last_mut().unwrap().push(g);
                }
            }
            // With a word's own alternatives inside the group (`[--merge sum|max]`).
            let mut choice = Choice::new();
            for alternative in alternatives {
                let parts: Vec<Choice> = alternative.iter().map(|w| word_choice(w)).collect();
                choice.extend(expand(&parts));
            }
            out.push(choice);
            i += 1;
            continue;
        }
        if w == "|" {
            // `x | y` outside brackets: alternatives of the word before.
            let next = words
                .get(i + 1)
                .unwrap_or_else(|| panic!("trailing | in {usage:?}"));
            out.last_mut()
                .unwrap()
                .push(vec![next.replace(['[', ']'], "")]);
            i += 2;
            continue;
        }
        // Optional parts inside a word (`-i=dir[,dir2…]`) are taken.
        out.push(word_choice(&w.replace(['[', ']'], "")));
        i += 1;
    }
    out
}

/// Command lines that together take every alternative of every choice once: the first
/// alternative everywhere, then each other alternative in turn.
fn expand(line: &[Choice]) -> Vec<Vec<String>> {
    let first = |skip: usize, alt: usize| -> Vec<String> {
        line.iter()
            .enumerate()
            .flat_map(|(k, c)| {
                if k == skip {
                    c[alt].clone()
                } else {
                    c[0].clone()
                }
            })
            .collect()
    };
    let mut out = vec![first(usize::MAX, 0)];
    for (k, c) in line.iter().enumerate() {
        for alt in 1..c.len() {
            out.push(first(k, alt));
        }
    }
    out
}

/// The word as the shell would pass it, with the placeholder `N` (a number) filled in;
/// other placeholders (`DIR`, `P`, `<build>`) are valid values as they are.
fn unquote(word: &str) -> String {
    if word == "N" {
        return "2".to_owned();
    }
    word.replace('\'', "")
}

fn livecov(args: &[String]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_livecov"))
        .args(args)
        .output()
        .expect("running livecov");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The subcommands a help text lists under "Commands:" (clap's, and `livecov go help`'s).
fn listed_commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim_end() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l[2..].starts_with(' '))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// The help of `livecov <path>`.
fn help_of(path: &[String]) -> String {
    let mut args = path.to_vec();
    // `livecov go` takes Go's flags; its command list is `livecov go help`.
    args.push(if path == ["go"] { "help" } else { "--help" }.to_owned());
    let (ok, stdout, stderr) = livecov(&args);
    assert!(ok, "livecov {} failed:\n{stderr}", args.join(" "));
    stdout
}

/// Checks one expanded command line; returns what is wrong with it.
fn check(args: &[String]) -> Result<(), String> {
    let shown = format!("livecov {}", args.join(" "));
    let mut path: Vec<String> = Vec::new();
    for arg in args {
        let commands = listed_commands(&help_of(&path));
        if commands.is_empty() {
            break;
        }
        if !commands.contains(arg) {
            return Err(format!(
                "{shown}: {arg:?} is not among the subcommands `livecov {} --help` lists \
                 ({commands:?})",
                path.join(" ")
            ));
        }
        path.push(arg.clone());
    }
    let mut with_help = args.to_vec();
    let help = if path.first().is_some_and(|p| p == "go") {
        "-h"
    } else {
        "--help"
    };
    // After `--` everything is the scenario command's (`collect … -- ./e2e.sh`): the help
    // flag goes before it, or the example would run.
    match with_help.iter().position(|a| a == "--") {
        Some(at) => with_help.insert(at, help.to_owned()),
        None => with_help.push(help.to_owned()),
    }
    let (ok, stdout, stderr) = livecov(&with_help);
    if !ok || stdout.is_empty() {
        return Err(format!("{shown}: does not parse:\n{stderr}"));
    }
    Ok(())
}

#[test]
fn every_readme_command_parses_and_is_listed_in_help() {
    let commands = readme_commands(&readme());
    assert!(
        commands.len() >= 10,
        "found only {} livecov command lines in README.md: {commands:?}",
        commands.len()
    );
    let mut failures = Vec::new();
    for (line, usage) in &commands {
        for variant in expand(&choices(usage)) {
            let args: Vec<String> = variant.iter().map(|w| unquote(w)).collect();
            if let Err(e) = check(&args) {
                failures.push(format!("README.md:{line}: {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn usage_lines_expand_to_every_alternative() {
    let expanded = |s: &str| -> Vec<String> {
        expand(&choices(s))
            .into_iter()
            .map(|v| v.iter().map(|w| unquote(w)).collect::<Vec<_>>().join(" "))
            .collect()
    };
    assert_eq!(
        expanded("c --a x [--m sum|max] [--u '*' | --u n=o-*]"),
        [
            "c --a x --m sum --u *",
            "c --a x --m max --u *",
            "c --a x --m sum --u n=o-*",
        ]
    );
    assert_eq!(
        expanded("d --url s3://B/P | gs://B/P [--f P]... <b>"),
        ["d --url s3://B/P --f P <b>", "d --url gs://B/P --f P <b>"]
    );
    assert_eq!(
        expanded("go html -i=d[,d2…] [-o=x]"),
        ["go html -i=d,d2… -o=x"]
    );
    assert_eq!(
        strip_comment("go percent -i=a # per package"),
        "go percent -i=a"
    );
}

#[test]
fn lines_the_binary_rejects_are_reported() {
    let args = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
    let err = check(&args("cluster nope --collection c")).unwrap_err();
    assert!(
        err.contains("\"nope\" is not among the subcommands"),
        "{err}"
    );
    let err = check(&args("go nope -i=d")).unwrap_err();
    assert!(err.contains("`livecov go --help`"), "{err}");
    let err = check(&args("report --collection c --format xml")).unwrap_err();
    assert!(err.contains("does not parse"), "{err}");
    let err = check(&args("go percent -i=d -bogus")).unwrap_err();
    assert!(
        err.contains("flag provided but not defined: -bogus"),
        "{err}"
    );
    check(&args("go percent -i=d -pkg=p")).unwrap();
    check(&args("cluster compile --collection c")).unwrap();
}
