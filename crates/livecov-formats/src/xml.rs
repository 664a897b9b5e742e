//! What the XML writers share: escaping text for attributes and character data.

use std::fmt::Write;

/// `s` escaped for a double-quoted attribute value or character data. Characters XML 1.0
/// cannot carry at all (C0 controls other than tab, line feed and carriage return) become
/// U+FFFD: a file name holding one must not make the whole report unreadable. Tab, line
/// feed and carriage return are written as character references, so attribute value
/// normalisation keeps them.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => {
                let _ = write!(out, "&#{};", ch as u32);
            }
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_controls_are_escaped() {
        assert_eq!(
            escape(r#"a<b>&"c"'d'"#),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;"
        );
        assert_eq!(escape("t\tn\u{1}x"), "t&#9;n\u{FFFD}x");
        assert_eq!(escape("plain/ü.go"), "plain/ü.go");
    }
}
