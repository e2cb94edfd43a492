//! Reading a payload so that the hook and the harness cannot see two different calls in it.
//!
//! Where a JSON object repeats a key, parsers disagree about which value counts (the first,
//! the last, or an error), and a tool name that differs from a judged one only by case or
//! spaces may be the same tool to a harness that folds it. Either way the hook could judge
//! one call while the harness runs another, so both are refused (the hook then blocks).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::Reason;

/// Parses `bytes` as JSON in which no object repeats a key.
pub fn parse(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Unique>(bytes).map(|u| u.0)
}

/// Refuses `tool` when it is not one of `judged` (nor named with the MCP prefix `mcp`, where
/// the harness has one) but would be after folding case and trimming spaces: `bash`, `BASH`,
/// `Bash `, `MCP__x__y`; and a name with a control character (`Bash\0` is `Bash` to a reader
/// that stops at the NUL).
pub fn tool_name(tool: &str, judged: &[&str], mcp: Option<&str>) -> Result<(), Reason> {
    if tool.chars().any(char::is_control) {
        return Err(format!("tool name {tool:?} holds a control character"));
    }
    let fold = |s: &str| s.trim().to_ascii_lowercase();
    let folded = fold(tool);
    let exact = judged.contains(&tool) || mcp.is_some_and(|m| tool.starts_with(m));
    let alike =
        judged.iter().any(|j| fold(j) == folded) || mcp.is_some_and(|m| folded.starts_with(m));
    if alike && !exact {
        return Err(format!(
            "tool name {tool:?} differs from a judged tool's only by case or spaces"
        ));
    }
    Ok(())
}

/// A JSON value whose objects have no repeated key.
struct Unique(Value);

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Unique, D::Error> {
        d.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Unique(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Unique(v) = map.next_value()?;
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "key {key:?} appears twice in one object"
                )));
            }
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_key_is_refused_at_any_depth() {
        assert!(parse(br#"{"a": 1, "b": [1, {"c": null}]}"#).is_ok());
        for bad in [
            &br#"{"a": 1, "a": 1}"#[..],
            br#"{"x": [{"c": "ls", "c": "rm"}]}"#,
        ] {
            let e = parse(bad).expect_err("repeated key").to_string();
            assert!(e.contains("appears twice"), "{e}");
        }
    }

    #[test]
    fn parse_keeps_every_value_as_serde_json_reads_it() {
        let text = r#"{"s": "\u00e9\n", "n": -3, "f": 1.5, "u": 18446744073709551615, "t": true, "z": null, "a": []}"#;
        let strict = parse(text.as_bytes()).expect("valid");
        let plain: Value = serde_json::from_str(text).expect("valid");
        assert_eq!(strict, plain);
    }

    #[test]
    fn a_tool_name_folded_onto_a_judged_one_is_refused() {
        let judged = ["Bash", "Write"];
        for ok in ["Bash", "Write", "Read", "mcp__s__t", "BashOutput"] {
            assert!(tool_name(ok, &judged, Some("mcp__")).is_ok(), "{ok}");
        }
        for bad in ["bash", "BASH", " Bash", "write\n", "MCP__s__t", "Mcp__x"] {
            assert!(tool_name(bad, &judged, Some("mcp__")).is_err(), "{bad:?}");
        }
        assert!(tool_name("BASH", &judged, None).is_err());
        assert!(tool_name("Bash\0", &judged, None).is_err());
        assert!(tool_name("Read\u{1b}", &judged, None).is_err());
        assert!(tool_name("anything", &judged, None).is_ok());
    }
}
