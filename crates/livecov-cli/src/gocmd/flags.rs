//! Go's `flag` package syntax, so `go tool covdata` command lines work unchanged:
//! `-name`, `--name`, `-name=value`, `-name value` (non-boolean flags), `--` ends flags,
//! and parsing stops at the first argument that is not a flag.

use std::collections::BTreeMap;

/// Whether a flag takes a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `-x` or `-x=true|false`.
    Bool,
    /// `-x=v` or `-x v`.
    Value,
}

/// One flag a command accepts.
pub struct Spec {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

/// Parsed flags: the last value given for each name (Go's behaviour), plus leftovers.
#[derive(Debug, Default)]
pub struct Parsed {
    values: BTreeMap<&'static str, String>,
    pub rest: Vec<String>,
}

impl Parsed {
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn bool(&self, name: &str) -> bool {
        self.values.get(name).is_some_and(|v| v == "true")
    }

    /// True when the help flag was given.
    pub fn help(&self) -> bool {
        self.bool("h") || self.bool("help")
    }
}

/// Parses `args` against `specs`. Errors read like Go's (`flag provided but not
/// defined: -x`).
pub fn parse(args: &[String], specs: &[Spec]) -> Result<Parsed, String> {
    let mut out = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg.len() < 2 || !arg.starts_with('-') {
            break;
        }
        let mut body = &arg[1..];
        if let Some(b) = body.strip_prefix('-') {
            if b.is_empty() {
                i += 1;
                break;
            }
            body = b;
        }
        if body.starts_with('-') || body.starts_with('=') {
            return Err(format!("bad flag syntax: {arg}"));
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let spec = if name == "h" || name == "help" {
            &Spec {
                name: if name == "h" { "h" } else { "help" },
                kind: Kind::Bool,
                help: "",
            }
        } else {
            specs
                .iter()
                .find(|s| s.name == name)
                .ok_or_else(|| format!("flag provided but not defined: -{name}"))?
        };
        let value = match (spec.kind, inline) {
            (Kind::Bool, None) => "true".to_owned(),
            (Kind::Bool, Some(v)) => match v {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => "true".to_owned(),
                "0" | "f" | "F" | "false" | "FALSE" | "False" => "false".to_owned(),
                _ => {
                    return Err(format!(
                        "invalid boolean value {v:?} for -{name}: parse error"
                    ))
                }
            },
            (Kind::Value, Some(v)) => v.to_owned(),
            (Kind::Value, None) => {
                i += 1;
                args.get(i)
                    .cloned()
                    .ok_or_else(|| format!("flag needs an argument: -{name}"))?
            }
        };
        out.values.insert(spec.name, value);
        i += 1;
    }
    out.rest = args[i..].to_vec();
    Ok(out)
}

/// Help lines for a set of flags, in Go's `-name` style.
pub fn usage(specs: &[Spec]) -> String {
    let mut s = String::new();
    for spec in specs {
        let arg = match spec.kind {
            Kind::Bool => "",
            Kind::Value => " string",
        };
        s.push_str(&format!("  -{}{arg}\n    \t{}\n", spec.name, spec.help));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[Spec] = &[
        Spec {
            name: "i",
            kind: Kind::Value,
            help: "",
        },
        Spec {
            name: "pcombine",
            kind: Kind::Bool,
            help: "",
        },
    ];

    fn p(args: &[&str]) -> Result<Parsed, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(&args, SPECS)
    }

    #[test]
    fn accepts_go_flag_forms() {
        let r = p(&["-i=a,b", "--pcombine", "x"]).unwrap();
        assert_eq!(r.value("i"), Some("a,b"));
        assert!(r.bool("pcombine"));
        assert_eq!(r.rest, vec!["x"]);
        let r = p(&["--i", "c", "-pcombine=false"]).unwrap();
        assert_eq!(r.value("i"), Some("c"));
        assert!(!r.bool("pcombine"));
        let r = p(&["-i=a", "--", "-i=b"]).unwrap();
        assert_eq!(r.value("i"), Some("a"));
        assert_eq!(r.rest, vec!["-i=b"]);
    }

    #[test]
    fn rejects_unknown_and_incomplete_flags() {
        assert_eq!(p(&["-x"]).unwrap_err(), "flag provided but not defined: -x");
        assert_eq!(p(&["-i"]).unwrap_err(), "flag needs an argument: -i");
        assert!(p(&["---i=a"]).is_err());
        assert!(p(&["-pcombine=maybe"]).is_err());
    }
}
