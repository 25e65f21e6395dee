//! Reading a saved report: every way a file can fail to be one gets a message that names the
//! file and the problem.

use std::fs;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use profx_report::{Report, SCHEMA_VERSION};
use serde_json::Value;

/// Reads the report saved at `path` (the JSON serialization of [`Report`]).
///
/// The schema version is checked on the raw JSON first, so that a report from another version
/// of profx is refused for its version rather than for a field it lacks.
pub fn load_report(path: &Path) -> Result<Report> {
    let bytes =
        fs::read(path).with_context(|| format!("{}: cannot read the report", path.display()))?;
    parse_report(&bytes).with_context(|| path.display().to_string())
}

/// Parses a saved report (errors do not name the file: the caller adds it).
pub fn parse_report(text: &[u8]) -> Result<Report> {
    let value: Value = serde_json::from_slice(text).map_err(|e| anyhow!("not valid JSON ({e})"))?;
    let Value::Object(fields) = &value else {
        bail!(
            "not a profx report: expected a JSON object at the top level, found {}",
            kind(&value)
        );
    };
    match fields.get("schema_version") {
        None => bail!("not a profx report: missing field `schema_version`"),
        Some(Value::Number(n)) if n.as_u64() == Some(u64::from(SCHEMA_VERSION)) => {}
        Some(Value::Number(n)) => bail!(
            "unsupported schema_version {n}: this profx reads schema_version {SCHEMA_VERSION}"
        ),
        Some(other) => bail!(
            "not a profx report: `schema_version` is {}, expected the integer {SCHEMA_VERSION}",
            kind(other)
        ),
    }
    // Deserialize from the text again (not the `Value`) so errors keep their line and column,
    // and record the path to the field that is wrong.
    let mut de = serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize::<_, Report>(&mut de).map_err(|e| {
        let at = e.path().to_string();
        let inner = e.into_inner();
        if at == "." || at.is_empty() {
            anyhow!("not a profx report: {inner}")
        } else {
            anyhow!("not a profx report: at `{at}`: {inner}")
        }
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Value {
        serde_json::to_value(Report::empty()).unwrap()
    }

    fn err(text: &str) -> String {
        format!("{:#}", parse_report(text.as_bytes()).unwrap_err())
    }

    #[test]
    fn reads_back_a_serialized_report() {
        let r = Report::empty();
        let back = parse_report(&serde_json::to_vec(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn not_json_says_so_with_the_position() {
        let e = err("{ \"schema_version\": 1,");
        assert!(e.starts_with("not valid JSON"), "{e}");
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_not_json() {
        let e = format!("{:#}", parse_report(b"\xff\xfe{}").unwrap_err());
        assert!(e.starts_with("not valid JSON"), "{e}");
    }

    #[test]
    fn top_level_must_be_an_object() {
        assert!(err("[1, 2]").contains("found an array"));
    }

    #[test]
    fn schema_version_is_checked_before_the_other_fields() {
        let e = err(r#"{"schema_version": 7}"#);
        assert!(e.contains("unsupported schema_version 7"), "{e}");
        assert!(
            e.contains(&format!("reads schema_version {SCHEMA_VERSION}")),
            "{e}"
        );
        assert!(err("{}").contains("missing field `schema_version`"));
        assert!(err(r#"{"schema_version": "1"}"#).contains("`schema_version` is a string"));
    }

    #[test]
    fn a_missing_or_wrong_field_is_named_with_its_path() {
        let mut v = valid();
        v.as_object_mut().unwrap().remove("agents");
        let e = err(&v.to_string());
        assert!(e.contains("missing field `agents`"), "{e}");

        let mut v = valid();
        v["overall_avg_duration"] = Value::String("fast".into());
        let e = err(&v.to_string());
        assert!(e.contains("at `overall_avg_duration`"), "{e}");
    }
}
