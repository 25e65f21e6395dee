//! The JSON report: the `Report` itself, durations in integer nanoseconds.

use std::io::{self, BufWriter, Write};

use crate::Report;

impl Report {
    /// Writes the report as pretty-printed JSON followed by a newline: the serde form of
    /// [`Report`] (durations as integer nanoseconds, timestamps as RFC 3339 text), which reads
    /// back into an equal `Report` with `serde_json`.
    ///
    /// ```
    /// let report = profx_report::Report::empty();
    /// let mut out = Vec::new();
    /// report.write_json(&mut out)?;
    /// let back: profx_report::Report = serde_json::from_slice(&out).unwrap();
    /// assert_eq!(back, report);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_json(&self, w: impl Write) -> io::Result<()> {
        let mut w = BufWriter::new(w);
        serde_json::to_writer_pretty(&mut w, self)?;
        writeln!(w)?;
        w.flush()
    }
}
