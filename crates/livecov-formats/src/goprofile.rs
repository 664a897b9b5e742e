//! Go's legacy text profile (`mode: set` + block lines). Placeholder, filled in next.
