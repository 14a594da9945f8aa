//! JSON Schemas for structured output (`--output-schema`), generated with `schemars`.

use schemars::JsonSchema;
use serde_json::Value;

/// The schema of `T`, adjusted for OpenAI's strict structured outputs: every object lists all
/// its properties as required and forbids others (optional fields stay nullable), and the
/// `$schema` keyword and numeric `format`s that the API rejects are removed.
pub fn strict_schema_for<T: JsonSchema>() -> Value {
    let mut v = schemars::schema_for!(T).to_value();
    if let Value::Object(m) = &mut v {
        m.remove("$schema");
    }
    make_strict(&mut v);
    v
}

fn make_strict(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(props)) = m.get("properties") {
                let names: Vec<Value> = props.keys().cloned().map(Value::String).collect();
                m.insert("required".into(), Value::Array(names));
                m.insert("additionalProperties".into(), Value::Bool(false));
            }
            if matches!(m.get("format"), Some(Value::String(f)) if is_numeric_format(f)) {
                m.remove("format");
            }
            for child in m.values_mut() {
                make_strict(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(make_strict),
        _ => {}
    }
}

fn is_numeric_format(f: &str) -> bool {
    matches!(
        f,
        "int8"
            | "int16"
            | "int32"
            | "int64"
            | "uint"
            | "uint8"
            | "uint16"
            | "uint32"
            | "uint64"
            | "float"
            | "double"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[allow(dead_code)]
    #[derive(JsonSchema)]
    struct Answer {
        city: String,
        population: u32,
        nickname: Option<String>,
    }

    #[test]
    fn strict_objects() {
        let s = strict_schema_for::<Answer>();
        assert_eq!(
            s,
            json!({
                "title": "Answer",
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "population": {"type": "integer", "minimum": 0},
                    "nickname": {"type": ["string", "null"]}
                },
                "required": ["city", "population", "nickname"],
                "additionalProperties": false
            })
        );
    }
}
