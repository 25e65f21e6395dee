//! The CSV report: one row per agent, for spreadsheets.

use std::io::{self, BufWriter, Write};

use crate::units::HumanDuration;
use crate::Report;

/// The header line of [`Report::write_csv`].
const HEADER: &str =
    "Agent,Total,Success,Failures,AvgDuration,MinDuration,MaxDuration,AvgMemory,P50,P90,P95,P99,Cancelled,SelfDuration,BusyDuration";

impl Report {
    /// Writes one CSV row per agent under the header
    /// `Agent,Total,Success,Failures,AvgDuration,MinDuration,MaxDuration,AvgMemory,P50,P90,P95,P99,Cancelled,SelfDuration,BusyDuration`:
    /// the source document's twelve columns, then `Cancelled` (executions dropped before they
    /// completed; `Total` is `Success + Failures + Cancelled`) and `SelfDuration` (the
    /// executions' own time, summed: their durations less their top-level phases) and
    /// `BusyDuration` (their time spent working, inside an async agent's polls, summed; a sync
    /// agent's is its whole time; empty when not known), last so that readers of the twelve find
    /// them where they were. Durations are human-readable (`42.0ms`); `AvgMemory` is a byte count, empty when memory
    /// was not measured. Fields are quoted as RFC 4180 says (a field with a comma, a double quote,
    /// a CR or a LF is put in double quotes, its quotes doubled); lines end with `\n`.
    ///
    /// ```
    /// let report = profx_report::Report::empty();
    /// let mut out = Vec::new();
    /// report.write_csv(&mut out)?;
    /// assert_eq!(
    ///     String::from_utf8(out).unwrap(),
    ///     "Agent,Total,Success,Failures,AvgDuration,MinDuration,MaxDuration,AvgMemory,P50,P90,P95,P99,Cancelled,SelfDuration,BusyDuration\n"
    /// );
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_csv(&self, w: impl Write) -> io::Result<()> {
        let mut w = BufWriter::new(w);
        writeln!(w, "{HEADER}")?;
        for (name, a) in &self.agents {
            let p = &a.percentiles;
            let memory = if self.memory_measured {
                a.avg_memory.to_string()
            } else {
                String::new()
            };
            let busy = match a.busy_share() {
                Some(_) => HumanDuration(a.busy_duration).to_string(),
                None => String::new(),
            };
            writeln!(
                w,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                Field(name),
                a.total_executions,
                a.success_count,
                a.failure_count,
                HumanDuration(a.avg_duration),
                HumanDuration(a.min_duration),
                HumanDuration(a.max_duration),
                memory,
                HumanDuration(p.p50),
                HumanDuration(p.p90),
                HumanDuration(p.p95),
                HumanDuration(p.p99),
                a.cancelled_count,
                HumanDuration(a.self_duration),
                busy,
            )?;
        }
        w.flush()
    }
}

/// A CSV field, quoted when it has to be (RFC 4180).
struct Field<'a>(&'a str);

impl std::fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0;
        if !s.contains([',', '"', '\r', '\n']) {
            return f.write_str(s);
        }
        f.write_str("\"")?;
        let mut parts = s.split('"');
        if let Some(first) = parts.next() {
            f.write_str(first)?;
        }
        for part in parts {
            f.write_str("\"\"")?;
            f.write_str(part)?;
        }
        f.write_str("\"")
    }
}

#[cfg(test)]
mod tests {
    use super::Field;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let q = |s: &str| Field(s).to_string();
        assert_eq!(q("codebase-locator"), "codebase-locator");
        assert_eq!(q(""), "");
        assert_eq!(q("a,b"), "\"a,b\"");
        assert_eq!(q("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(q("\""), "\"\"\"\"");
        assert_eq!(q("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(q("cr\r"), "\"cr\r\"");
    }
}
