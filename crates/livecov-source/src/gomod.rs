//! Just enough of Go's `go.mod`, `go.work` and `vendor/modules.txt` syntax: the module
//! path, the workspace's `use` directories and the vendored modules.
//!
//! Upstream grammar: <https://go.dev/ref/mod#go-mod-file-grammar> and
//! <https://go.dev/ref/mod#go-work-file-grammar>.

/// The tokens of one line: `//` comments dropped, `"…"` and `` `…` `` strings unquoted,
/// parentheses as tokens of their own.
fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    let mut current = String::new();
    let flush = |current: &mut String, out: &mut Vec<String>| {
        if !current.is_empty() {
            out.push(std::mem::take(current));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => break,
            '"' | '`' => {
                flush(&mut current, &mut out);
                let mut s = String::new();
                while let Some(q) = chars.next() {
                    if q == c {
                        break;
                    }
                    if q == '\\' && c == '"' {
                        if let Some(escaped) = chars.next() {
                            s.push(escaped);
                        }
                        continue;
                    }
                    s.push(q);
                }
                out.push(s);
            }
            '(' | ')' => {
                flush(&mut current, &mut out);
                out.push(c.to_string());
            }
            c if c.is_whitespace() => flush(&mut current, &mut out),
            c => current.push(c),
        }
    }
    flush(&mut current, &mut out);
    out
}

/// The arguments of every `verb` directive, single-line or in a `verb ( … )` block.
fn directive_args(text: &str, verb: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        let toks = tokens(line);
        if in_block {
            let end = toks.iter().position(|t| t == ")");
            let args = &toks[..end.unwrap_or(toks.len())];
            if !args.is_empty() {
                out.push(args.to_vec());
            }
            in_block = end.is_none();
            continue;
        }
        match toks.split_first() {
            Some((first, rest)) if first == verb => match rest.split_first() {
                Some((open, inner)) if open == "(" => {
                    let end = inner.iter().position(|t| t == ")");
                    let args = &inner[..end.unwrap_or(inner.len())];
                    if !args.is_empty() {
                        out.push(args.to_vec());
                    }
                    in_block = end.is_none();
                }
                Some(_) => out.push(rest.to_vec()),
                None => {}
            },
            _ => {}
        }
    }
    out
}

/// The module path declared by a `go.mod`, if any.
pub(crate) fn module_path(go_mod: &str) -> Option<String> {
    directive_args(go_mod, "module")
        .into_iter()
        .find_map(|args| args.into_iter().next())
        .filter(|m| !m.is_empty())
}

/// The directories a `go.work` uses, relative to the go.work's directory, `./` removed
/// (`""` is the go.work's own directory).
pub(crate) fn work_uses(go_work: &str) -> Vec<String> {
    directive_args(go_work, "use")
        .into_iter()
        .filter_map(|args| args.into_iter().next())
        .map(|dir| {
            let mut dir = dir.as_str();
            while let Some(rest) = dir.strip_prefix("./") {
                dir = rest;
            }
            let dir = dir.trim_end_matches('/');
            if dir == "." {
                String::new()
            } else {
                dir.to_owned()
            }
        })
        .collect()
}

/// The `(module, version)` pairs of a `vendor/modules.txt` (`# module version` lines).
pub(crate) fn vendored_modules(modules_txt: &str) -> Vec<(String, String)> {
    modules_txt
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("# ")?;
            let mut fields = rest.split_whitespace();
            let module = fields.next()?;
            let version = fields.next().unwrap_or("");
            Some((module.to_owned(), version.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_directive_forms() {
        assert_eq!(
            module_path("module example.com/a\n\ngo 1.22\n").as_deref(),
            Some("example.com/a")
        );
        assert_eq!(
            module_path("// header\nmodule \"example.com/q\" // why\n").as_deref(),
            Some("example.com/q")
        );
        assert_eq!(
            module_path("module `example.com/b`\n").as_deref(),
            Some("example.com/b")
        );
        assert_eq!(
            module_path("module (\n\texample.com/c\n)\n").as_deref(),
            Some("example.com/c")
        );
        assert_eq!(module_path("\u{feff}go 1.21\n// module fake\n"), None);
        assert_eq!(module_path("modulex example.com/d\n"), None);
        assert_eq!(module_path(""), None);
    }

    #[test]
    fn work_use_forms() {
        let work = "go 1.22\n\nuse (\n\t./a // first\n\t// ./commented\n\t\"./b\"\n\t.\n)\nuse ./tools/\nuse ( ./c ./d )\nreplace x => ./y\n";
        assert_eq!(work_uses(work), ["a", "b", "", "tools", "c"]);
        assert_eq!(work_uses("use"), Vec::<String>::new());
    }

    #[test]
    fn modules_txt() {
        let txt = "# github.com/dep/lib v1.2.3\n## explicit; go 1.20\ngithub.com/dep/lib\n# example.com/r v0.1.0 => ./r\n";
        assert_eq!(
            vendored_modules(txt),
            [
                ("github.com/dep/lib".to_owned(), "v1.2.3".to_owned()),
                ("example.com/r".to_owned(), "v0.1.0".to_owned())
            ]
        );
    }
}
