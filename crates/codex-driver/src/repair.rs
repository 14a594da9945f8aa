//! Decoding what changed shape: a message of a known kind whose fields don't all fit the
//! types is decoded field by field, keeping what fits (see `exec::events` and the app-server's
//! `turn/completed`).

use serde_json::{Map, Value};

/// Splits `fields` into those that fit and those that don't: each is tested alone, over
/// `skeleton` (the smallest valid object, which also supplies missing required fields), by
/// `test`. The fitting ones are returned over the skeleton.
pub(crate) fn sort_fields(
    skeleton: &Map<String, Value>,
    fields: Map<String, Value>,
    test: impl Fn(&Map<String, Value>) -> bool,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut good = skeleton.clone();
    let mut bad = Map::new();
    for (k, v) in fields {
        let mut one = skeleton.clone();
        one.insert(k.clone(), v.clone());
        if test(&one) {
            good.insert(k, v);
        } else {
            bad.insert(k, v);
        }
    }
    (good, bad)
}

/// [`sort_fields`], then, for each field that didn't fit and is an object where the skeleton
/// has an object too, what of it fits (tested inside the whole, by `test`).
pub(crate) fn fit_nested(
    skeleton: &Map<String, Value>,
    fields: Map<String, Value>,
    test: impl Fn(&Map<String, Value>) -> bool,
) -> (Map<String, Value>, Map<String, Value>) {
    let (mut good, bad) = sort_fields(skeleton, fields, &test);
    for (k, v) in &bad {
        if let (Value::Object(inner), Some(Value::Object(base))) = (v, skeleton.get(k)) {
            let with = |o: &Map<String, Value>| {
                let mut whole = good.clone();
                whole.insert(k.clone(), Value::Object(o.clone()));
                test(&whole)
            };
            let (fixed, _) = sort_fields(base, inner.clone(), with);
            good.insert(k.clone(), Value::Object(fixed));
        }
    }
    (good, bad)
}
