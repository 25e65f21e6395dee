//! An agent's flame graph: where its kept executions spent their time, stack by stack (self
//! times summed; see `report::folded`), drawn by inferno and shown as an image.

use std::fmt::{self, Write as _};

use super::text::esc;
use super::Out;
use crate::ExecutionProfile;

/// The flame graph of `execs` (the kept executions of agent `name`), when there is anything to
/// draw.
pub(super) fn flame_figure(name: &str, execs: &[ExecutionProfile], out: &mut Out) -> fmt::Result {
    let lines = crate::write::folded::folded(execs);
    if lines.is_empty() {
        return Ok(());
    }
    let mut svg = Vec::new();
    let title = format!("{name}: where the time went");
    if crate::write::folded::flamegraph(&lines, &title, &mut svg).is_err() {
        // Nothing to show rather than a broken image; the rest of the report stands.
        return Ok(());
    }
    writeln!(
        out,
        "<figure class=\"flame\"><figcaption>Where the time went <span class=\"muted\">\
         — {n} kept executions: each bar a stack (the agent, then the phases down to it), its \
         width the stack's self time summed over them (its time less that of the phases inside \
         it)</span></figcaption><img alt=\"flame graph of {name}\" \
         src=\"data:image/svg+xml;base64,{data}\"></figure>",
        name = esc(name),
        data = Base64(&svg),
        n = execs.len(),
    )
}

/// Bytes in standard base64 (RFC 4648, padded).
struct Base64<'a>(&'a [u8]);

impl fmt::Display for Base64<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for chunk in self.0.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    f.write_char(A[(n >> (18 - 6 * i) & 63) as usize] as char)?;
                } else {
                    f.write_char('=')?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Base64;

    #[test]
    fn base64_as_rfc_4648_has_it() {
        // The test vectors of RFC 4648 §10.
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(Base64(plain.as_bytes()).to_string(), coded);
        }
    }
}
