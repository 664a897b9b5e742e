//! Reading Cobertura XML: the `<source>` directories and, per `class@filename`, the hits
//! of its `<line>`s (what GitLab, Codecov and diff-cover read; `formats.md` §3.3–3.4).
//!
//! Only the lines directly under a class count: a `<method>`'s `<lines>` repeat some of
//! them. Classes naming the same file (a Java file's inner classes, several reports
//! concatenated by a tool) add their hits, as GitLab does. `hits` must be a non-negative
//! integer, or an integer-valued decimal (`1.0`, which Codecov accepts). Branch data is
//! not read. No DTD or external entity is ever fetched: quick-xml resolves none.

use std::collections::BTreeMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// What a Cobertura report says about lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoberturaReport {
    /// The `<source>` texts, trimmed, in document order (empty ones dropped).
    pub sources: Vec<String>,
    /// `class@filename` (as written: relative to a source, or to the repository) → (line,
    /// hits), lines ascending and unique.
    pub files: BTreeMap<String, Vec<(u32, u64)>>,
}

/// A report that cannot be read: where (1-based line of the XML) and what was expected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {message}")]
pub struct ReadError {
    /// The line of the XML document.
    pub line: usize,
    /// What was found and what was expected.
    pub message: String,
}

/// Reads a Cobertura report.
pub fn read(bytes: &[u8]) -> Result<CoberturaReport, ReadError> {
    let mut reader = Reader::from_reader(bytes);
    let line_at = |pos: u64| -> usize {
        let end = usize::try_from(pos).unwrap_or(usize::MAX).min(bytes.len());
        1 + newlines(&bytes[..end])
    };
    let fail = |pos: u64, message: String| ReadError {
        line: line_at(pos),
        message,
    };

    let mut files: BTreeMap<String, BTreeMap<u32, u64>> = BTreeMap::new();
    let mut sources = Vec::new();
    // Element names from the root down to the current element.
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut class: Option<String> = None;
    let mut source_text: Option<String> = None;
    let mut seen_root = false;
    loop {
        let pos = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| fail(reader.error_position(), format!("not well-formed XML: {e}")))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let name = e.name().as_ref().to_vec();
                if stack.is_empty() {
                    if seen_root {
                        return Err(fail(pos, "a second root element".to_owned()));
                    }
                    seen_root = true;
                    if name != b"coverage" {
                        return Err(fail(
                            pos,
                            format!(
                                "the root element is <{}>, not <coverage>: not a Cobertura report",
                                String::from_utf8_lossy(&name)
                            ),
                        ));
                    }
                }
                let parent = stack.last().map(Vec::as_slice);
                match name.as_slice() {
                    b"class" => {
                        let filename =
                            attr(e, b"filename")
                                .map_err(|m| fail(pos, m))?
                                .ok_or_else(|| {
                                    fail(pos, "a <class> without a filename attribute".to_owned())
                                })?;
                        files.entry(filename.clone()).or_default();
                        class = (!empty).then_some(filename);
                    }
                    b"line"
                        if parent == Some(b"lines")
                            && stack.len() >= 2
                            && stack[stack.len() - 2] == b"class" =>
                    {
                        let Some(file) = class.as_ref() else {
                            return Err(fail(pos, "a <line> outside a <class>".to_owned()));
                        };
                        let number = attr(e, b"number").map_err(|m| fail(pos, m))?;
                        let hits = attr(e, b"hits").map_err(|m| fail(pos, m))?;
                        let (Some(number), Some(hits)) = (number, hits) else {
                            return Err(fail(
                                pos,
                                "a <line> needs both number and hits attributes".to_owned(),
                            ));
                        };
                        let number: u32 = number
                            .trim()
                            .parse()
                            .ok()
                            .filter(|&n| n > 0)
                            .ok_or_else(|| {
                                fail(
                                    pos,
                                    format!("line number {number:?}: expected a positive integer"),
                                )
                            })?;
                        let hits = parse_hits(&hits).ok_or_else(|| {
                            fail(
                                pos,
                                format!("hits {hits:?}: expected a non-negative integer"),
                            )
                        })?;
                        let slot = files.entry(file.clone()).or_default().entry(number);
                        let total = slot.or_insert(0);
                        *total = total.saturating_add(hits);
                    }
                    b"source" if parent == Some(b"sources") && !empty => {
                        source_text = Some(String::new());
                    }
                    _ => {}
                }
                if !empty {
                    stack.push(name);
                }
            }
            Event::End(e) => {
                let name = e.name().as_ref().to_vec();
                match name.as_slice() {
                    b"class" => class = None,
                    b"source" => {
                        if let Some(s) = source_text.take() {
                            let s = s.trim();
                            if !s.is_empty() {
                                sources.push(s.to_owned());
                            }
                        }
                    }
                    _ => {}
                }
                stack.pop();
            }
            Event::Text(t) => {
                if let Some(s) = source_text.as_mut() {
                    let text = t.decode().map_err(|e| fail(pos, format!("{e}")))?;
                    s.push_str(&text);
                }
            }
            Event::CData(t) => {
                if let Some(s) = source_text.as_mut() {
                    let text = t.decode().map_err(|e| fail(pos, format!("{e}")))?;
                    s.push_str(&text);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(s) = source_text.as_mut() {
                    let ch = match r.resolve_char_ref() {
                        Ok(Some(c)) => c,
                        Ok(None) => {
                            let name = r.decode().map_err(|e| fail(pos, format!("{e}")))?;
                            let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                                .ok_or_else(|| {
                                    fail(
                                        pos,
                                        format!(
                                            "the entity &{name}; is not one of XML's five \
                                             (livecov reads no DTD)"
                                        ),
                                    )
                                })?;
                            s.push_str(resolved);
                            continue;
                        }
                        Err(e) => return Err(fail(pos, format!("{e}"))),
                    };
                    s.push(ch);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !seen_root {
        return Err(fail(
            0,
            "no root element: not a Cobertura report (expected <coverage>)".to_owned(),
        ));
    }
    if !stack.is_empty() {
        return Err(fail(
            bytes.len() as u64,
            format!(
                "the document ends inside <{}> (a truncated report?)",
                String::from_utf8_lossy(stack.last().map_or(&[][..], Vec::as_slice))
            ),
        ));
    }
    Ok(CoberturaReport {
        sources,
        files: files
            .into_iter()
            .map(|(f, lines)| (f, lines.into_iter().collect()))
            .collect(),
    })
}

fn newlines(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

/// An attribute's unescaped value, `None` when absent.
fn attr(e: &BytesStart<'_>, name: &[u8]) -> Result<Option<String>, String> {
    for a in e.attributes() {
        let a = a.map_err(|err| format!("a malformed attribute: {err}"))?;
        if a.key.as_ref() == name {
            let v = a
                .unescape_value()
                .map_err(|err| format!("attribute {}: {err}", String::from_utf8_lossy(name)))?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

/// `hits`: an integer, or a decimal with no fraction (`3.0`).
fn parse_hits(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Some(n);
    }
    let (whole, frac) = s.split_once('.')?;
    if whole.is_empty() || !frac.bytes().all(|b| b == b'0') {
        return None;
    }
    whole.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_lines_count_and_method_lines_do_not() {
        let xml = br#"<?xml version="1.0" ?>
<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">
<coverage version="7" timestamp="1" lines-valid="3" lines-covered="2" line-rate="0.6667">
  <!-- a comment -->
  <sources><source>/w/r&amp;d</source><source>
  </source><source><![CDATA[src]]></source></sources>
  <packages><package name="p"><classes>
    <class name="a.py" filename="p/a.py">
      <methods><method name="f" signature="()"><lines><line number="2" hits="9"/></lines></method></methods>
      <lines><line number="2" hits="1"/><line number="1" hits="0" branch="true" condition-coverage="50% (1/2)"/></lines>
    </class>
    <class name="a$Inner" filename="p/a.py"><methods/><lines><line number="2" hits="3.0"/><line number="7" hits="0"/></lines></class>
    <class name="e" filename="p/empty.py"/>
  </classes></package></packages>
</coverage>"#;
        let r = read(xml).unwrap();
        assert_eq!(r.sources, ["/w/r&d", "src"]);
        assert_eq!(r.files["p/a.py"], [(1, 0), (2, 4), (7, 0)]);
        assert!(r.files["p/empty.py"].is_empty());
    }

    #[test]
    fn bad_reports_name_the_line_and_what_was_expected() {
        let e = read(b"<report/>").unwrap_err();
        assert!(e.message.contains("not <coverage>"), "{e}");
        let e = read(b"<coverage>\n<packages>\n<class filename=\"a\"><lines>\n<line number=\"1\" hits=\"-1\"/>").unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.message.contains("hits \"-1\""), "{e}");
        let e = read(b"<coverage><class filename=\"a\"><lines><line number=\"0\" hits=\"1\"/>")
            .unwrap_err();
        assert!(e.message.contains("positive integer"), "{e}");
        let e = read(b"<coverage>\n<class filename=\"a\">").unwrap_err();
        assert!(e.message.contains("ends inside <class>"), "{e}");
        let e = read(b"<coverage><sources><source>&x;</source></sources></coverage>").unwrap_err();
        assert!(e.message.contains("&x;"), "{e}");
        let e = read(b"").unwrap_err();
        assert!(e.message.contains("no root element"), "{e}");
        let e = read(b"<coverage>\n<a></b></coverage>").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(parse_hits("1.5").is_none());
        assert_eq!(parse_hits(" 12 "), Some(12));
    }

    /// Untrusted bytes never panic: every truncation of a report.
    #[test]
    fn truncated_reports_never_panic() {
        let xml = br#"<coverage><sources><source>&#x41;&lt;</source></sources><packages><package><classes><class filename="&quot;q"><lines><line number="1" hits="2"/></lines></class></classes></package></packages></coverage>"#;
        for cut in 0..=xml.len() {
            let _ = read(&xml[..cut]);
        }
        let r = read(xml).unwrap();
        assert_eq!(r.sources, ["A<"]);
        assert_eq!(r.files["\"q"], [(1, 2)]);
    }
}
