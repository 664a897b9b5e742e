//! Coverable units: the source ranges a build counts.

/// One coverable unit: a source range and the number of statements it holds.
///
/// Lines and columns are 1-based; columns count bytes, as Go's do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Unit {
    /// First line of the range.
    pub start_line: u32,
    /// First column (byte) of the range.
    pub start_col: u32,
    /// Last line of the range.
    pub end_line: u32,
    /// Column just past the end of the range.
    pub end_col: u32,
    /// Statements in the range; may be zero (an empty function body).
    pub stmts: u32,
}

impl Unit {
    /// The order Go's text profiles use: start line, **end line**, start column, end
    /// column, statements.
    pub fn profile_key(&self) -> (u32, u32, u32, u32, u32) {
        (
            self.start_line,
            self.end_line,
            self.start_col,
            self.end_col,
            self.stmts,
        )
    }
}
