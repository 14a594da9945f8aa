#!/usr/bin/env python3
"""Generates Rust types for the Codex app-server protocol from the binary's own JSON Schema.

Usage: gen-app-server-types.py SCHEMA_DIR OUT.rs
SCHEMA_DIR is the output of `codex app-server generate-json-schema --out SCHEMA_DIR`.

Rules (every generated type decodes tolerantly):
- objects -> structs; optional/nullable fields -> Option; unknown fields kept in `extra`;
- string enums -> enums with `Unknown(String)`;
- unions tagged by a single-valued property -> internally tagged enums with `Unknown(Value)`;
- unions of strings and one-key objects -> externally tagged enums with `Unknown(Value)`;
- anything else -> serde_json::Value;
- ClientRequest/ServerRequest/ServerNotification -> method tables and typed dispatch enums.
"""
import json
import re
import sys

KEYWORDS = {
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe",
    "use", "where", "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv",
    "typeof", "unsized", "virtual", "yield", "try", "gen",
}
RESERVED_TYPES = {"Option", "Result", "Vec", "String", "Box", "Value", "Map", "Self", "Default", "Unknown"}


def pascal(s):
    parts = re.split(r"[^A-Za-z0-9]+", s)
    out = "".join(p[:1].upper() + p[1:] for p in parts if p)
    if not out:
        out = "Empty"
    if out[0].isdigit():
        out = "V" + out
    return out


def snake(s):
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    s = re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_").lower()
    if not s:
        s = "field"
    if s[0].isdigit():
        s = "f_" + s
    if s in KEYWORDS:
        s += "_"
    return s


def type_name(s):
    n = pascal(s)
    if n in RESERVED_TYPES:
        n += "Type"
    return n


def doc(desc, indent=""):
    if not desc:
        return ""
    text = desc.replace("```", "'''").replace("[", "\\[").replace("]", "\\]")
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    lines = text.strip().split("\n")
    return "".join(f"{indent}/// {l.rstrip()}\n" if l.strip() else f"{indent}///\n" for l in lines)


class Gen:
    def __init__(self, defs):
        self.defs = defs
        self.out = {}  # name -> rust source
        self.order = []
        self.defaultable = {}  # struct name -> list of field types (for Default fixpoint)
        self.kind = {}  # name -> struct|enum|alias

    def ref_name(self, ref):
        return type_name(ref.split("/")[-1])

    def emit(self, name, src, kind):
        if name in self.out:
            return
        self.out[name] = src
        self.kind[name] = kind
        self.order.append(name)

    # ---- type expressions -------------------------------------------------------------------
    def ty(self, s, ctx):
        """Rust type for schema `s`; `ctx` names inline types. Returns (type, nullable)."""
        if s is True or s == {} or s is None:
            return "Value", False
        if "$ref" in s:
            return self.ref_name(s["$ref"]), False
        for key in ("anyOf", "oneOf"):
            if key in s:
                alts = s[key]
                non_null = [a for a in alts if not (isinstance(a, dict) and a.get("type") == "null")]
                if len(non_null) == 1 and len(non_null) < len(alts):
                    t, _ = self.ty(non_null[0], ctx)
                    return t, True
                name = type_name(ctx)
                self.union(name, s)
                return name, len(non_null) < len(alts)
        t = s.get("type")
        nullable = False
        if isinstance(t, list):
            nn = [x for x in t if x != "null"]
            nullable = len(nn) < len(t)
            if len(nn) != 1:
                return "Value", nullable
            t = nn[0]
        if "enum" in s and t in (None, "string"):
            vals = [v for v in s["enum"] if v is not None]
            if len(vals) == 1:
                return "String", nullable or (None in s["enum"])
            name = type_name(ctx)
            self.string_enum(name, vals, s.get("description"))
            return name, nullable or (None in s["enum"])
        if t == "string":
            return "String", nullable
        if t == "boolean":
            return "bool", nullable
        if t == "integer":
            fmt = s.get("format", "")
            return ("u64" if fmt.startswith("uint") or s.get("minimum", -1) == 0 else "i64"), nullable
        if t == "number":
            return "f64", nullable
        if t == "array":
            items = s.get("items")
            if isinstance(items, list) or items is None:
                return "Vec<Value>", nullable
            it, inull = self.ty(items, ctx + "Item")
            return (f"Vec<Option<{it}>>" if inull else f"Vec<{it}>"), nullable
        if t == "object" or "properties" in s:
            if s.get("properties"):
                name = type_name(ctx)
                self.struct(name, s)
                return name, nullable
            ap = s.get("additionalProperties")
            if isinstance(ap, dict) and ap:
                vt, vnull = self.ty(ap, ctx + "Value")
                return (f"BTreeMap<String, Option<{vt}>>" if vnull else f"BTreeMap<String, {vt}>"), nullable
            return "Map<String, Value>", nullable
        return "Value", nullable

    # ---- definitions ------------------------------------------------------------------------
    def define(self, name, s):
        tname = type_name(name)
        if tname in self.out:
            return
        if "oneOf" in s or "anyOf" in s:
            self.union(tname, s)
        elif "enum" in s and s.get("type") in (None, "string"):
            vals = [v for v in s["enum"] if v is not None]
            self.string_enum(tname, vals, s.get("description"))
        elif s.get("type") == "object" or "properties" in s:
            if s.get("properties"):
                self.struct(tname, s)
            else:
                t, _ = self.ty(s, tname + "Map")
                self.emit(tname, doc(s.get("description")) + f"pub type {tname} = {t};\n", "alias")
        else:
            t, nullable = self.ty(s, tname + "Inner")
            if nullable:
                t = f"Option<{t}>"
            self.emit(tname, doc(s.get("description")) + f"pub type {tname} = {t};\n", "alias")

    def string_enum(self, name, vals, desc):
        if name in self.out:
            return
        self.out[name] = ""  # reserve against recursion
        seen = set()
        variants = []
        for v in vals:
            vn = pascal(str(v))
            while vn in seen or vn == "Unknown":
                vn += "_"
            seen.add(vn)
            variants.append(f"    #[serde(rename = {json.dumps(str(v))})]\n    {vn},\n")
        src = doc(desc)
        src += "#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]\n#[non_exhaustive]\n"
        src += f"pub enum {name} {{\n" + "".join(variants)
        src += "    /// A value this version of the library does not know.\n    #[serde(untagged)]\n    Unknown(String),\n}\n"
        del self.out[name]
        self.emit(name, src, "enum")

    def struct(self, name, s, skip=()):
        if name in self.out:
            return
        self.out[name] = ""
        required = set(s.get("required", []))
        fields = []
        ftypes = []
        used = set()
        props = dict(s.get("properties", {}))
        # `anyOf`/`oneOf` object alternatives beside the properties (e.g. an image given by
        # `url` or by `fileId`): each alternative's fields become optional fields.
        for key in ("anyOf", "oneOf"):
            for alt in s.get(key) or []:
                if isinstance(alt, dict) and alt.get("type") == "object":
                    for pn, pv in alt.get("properties", {}).items():
                        props.setdefault(pn, pv)
        for pname, ps in props.items():
            if pname in skip:
                continue
            fname = snake(pname)
            while fname in used or fname == "extra":
                fname += "_"
            used.add(fname)
            t, nullable = self.ty(ps if isinstance(ps, dict) else {}, name + pascal(pname))
            optional = nullable or pname not in required
            attrs = []
            if fname.rstrip("_") != pname or fname.endswith("_"):
                if fname != pname:
                    attrs.append(f"rename = {json.dumps(pname)}")
            if optional:
                t = f"Option<{t}>"
                attrs.append('default, skip_serializing_if = "Option::is_none"')
            d = doc(ps.get("description") if isinstance(ps, dict) else None, "    ")
            a = f"    #[serde({', '.join(attrs)})]\n" if attrs else ""
            fields.append(f"{d}{a}    pub {fname}: {t},\n")
            ftypes.append(t)
        src = doc(s.get("description"))
        src += "#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]\n"
        src += f"pub struct {name} {{\n" + "".join(fields)
        src += "    /// Fields this version of the library does not know.\n    #[serde(flatten)]\n    pub extra: Map<String, Value>,\n}\n"
        del self.out[name]
        self.emit(name, src, "struct")
        self.defaultable[name] = ftypes

    def union(self, name, s):
        if name in self.out:
            return
        alts = s.get("oneOf") or s.get("anyOf")
        non_null = [a for a in alts if not (isinstance(a, dict) and a.get("type") == "null")]
        desc = s.get("description")
        # 1. only string enums -> one string enum
        if all("enum" in a and a.get("type", "string") == "string" for a in non_null):
            vals = [v for a in non_null for v in a["enum"] if v is not None]
            self.string_enum(name, vals, desc)
            return
        # 2. objects sharing a single-valued tag property
        objs = [a for a in non_null if a.get("type") == "object" and a.get("properties")]
        if len(objs) == len(non_null):
            tags = None
            for a in objs:
                t = {p for p, pv in a["properties"].items() if isinstance(pv, dict) and len(pv.get("enum", [])) == 1}
                tags = t if tags is None else tags & t
            if tags:
                tag = "type" if "type" in tags else sorted(tags)[0]
                self.out[name] = ""
                variants = []
                seen = set()
                for a in objs:
                    val = a["properties"][tag]["enum"][0]
                    vn = pascal(str(val))
                    while vn in seen or vn == "Unknown":
                        vn += "_"
                    seen.add(vn)
                    sname = type_name(name + vn)
                    self.struct(sname, a, skip=(tag,))
                    variants.append(doc(a.get("description"), "    ") + f"    #[serde(rename = {json.dumps(val)})]\n    {vn}({sname}),\n")
                src = doc(desc)
                src += "#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]\n#[non_exhaustive]\n"
                src += f"#[serde(tag = {json.dumps(tag)})]\npub enum {name} {{\n" + "".join(variants)
                src += "    /// A variant this version of the library does not know, kept whole.\n    #[serde(untagged)]\n    Unknown(Value),\n}\n"
                del self.out[name]
                self.emit(name, src, "enum")
                return
        # 3. strings and one-key objects -> externally tagged
        def one_key(a):
            return a.get("type") == "object" and len(a.get("properties", {})) == 1 and set(a.get("required", [])) == set(a["properties"])
        if all(("enum" in a and a.get("type", "string") == "string") or one_key(a) for a in non_null):
            self.out[name] = ""
            variants = []
            seen = set()
            for a in non_null:
                if "enum" in a:
                    for v in a["enum"]:
                        vn = pascal(str(v))
                        while vn in seen or vn == "Unknown":
                            vn += "_"
                        seen.add(vn)
                        variants.append(f"    #[serde(rename = {json.dumps(v)})]\n    {vn},\n")
                else:
                    (k, ps), = a["properties"].items()
                    vn = pascal(k)
                    while vn in seen or vn == "Unknown":
                        vn += "_"
                    seen.add(vn)
                    t, nullable = self.ty(ps, name + vn)
                    if nullable:
                        t = f"Option<{t}>"
                    variants.append(doc(a.get("description"), "    ") + f"    #[serde(rename = {json.dumps(k)})]\n    {vn}({t}),\n")
            src = doc(desc)
            src += "#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]\n#[non_exhaustive]\n"
            src += f"pub enum {name} {{\n" + "".join(variants)
            src += "    /// A variant this version of the library does not know, kept whole.\n    #[serde(untagged)]\n    Unknown(Value),\n}\n"
            del self.out[name]
            self.emit(name, src, "enum")
            return
        self.emit(name, doc(desc) + f"pub type {name} = Value;\n", "alias")

    def defaults(self):
        """Structs whose every field type has a Default."""
        ok = set()
        changed = True

        def has_default(t):
            if t.startswith(("Option<", "Vec<", "BTreeMap<", "Map<")):
                return True
            if t in ("String", "bool", "i64", "u64", "f64", "Value"):
                return True
            if self.kind.get(t) == "alias":
                src = self.out[t]
                m = re.search(r"= (.*);", src)
                return bool(m) and has_default(m.group(1))
            return t in ok

        while changed:
            changed = False
            for name, ftypes in self.defaultable.items():
                if name not in ok and all(has_default(t) for t in ftypes):
                    ok.add(name)
                    changed = True
        return ok


def methods(defs, union_name):
    out = []
    for alt in defs.get(union_name, {}).get("oneOf", []):
        props = alt.get("properties", {})
        m = props.get("method", {}).get("enum", [None])[0]
        p = props.get("params", {})
        ref = p.get("$ref") if isinstance(p, dict) else None
        out.append((m, type_name(ref.split("/")[-1]) if ref else None))
    return out


def main():
    schema_dir, out_path = sys.argv[1], sys.argv[2]
    full = json.load(open(f"{schema_dir}/codex_app_server_protocol.schemas.json"))
    defs = {}
    for k, v in full["definitions"].get("v2", {}).items():
        defs[k] = v
    for k, v in full["definitions"].items():
        if k != "v2" and k not in defs:
            defs[k] = v
    g = Gen(defs)
    for name in sorted(defs):
        if name in ("ClientRequest", "ServerRequest", "ServerNotification", "ClientNotification"):
            continue
        g.define(name, defs[name])
    defaults = g.defaults()

    client = methods(defs, "ClientRequest")
    server_req = methods(defs, "ServerRequest")
    notes = methods(defs, "ServerNotification")

    w = []
    w.append("// @generated by scripts/gen-app-server-types.py from `codex app-server generate-json-schema`\n")
    w.append("// of the Codex release in CODEX_VERSIONS. Do not edit: regenerate with scripts/app-server-schema.\n")
    w.append("//! Codex app-server protocol types, generated from the binary's own JSON Schema.\n\n")
    w.append("use serde::{Deserialize, Serialize};\nuse serde_json::{Map, Value};\nuse std::collections::BTreeMap;\n\n")
    for name in sorted(g.order):
        src = g.out[name]
        if name in defaults:
            src = src.replace("#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]\npub struct", "#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]\npub struct", 1)
        w.append(src + "\n")

    # Client requests: method names and typed request/response pairs.
    w.append("/// A client-to-server request: its method name and response type.\n")
    w.append("pub trait ClientRequest: Serialize {\n    /// JSON-RPC method.\n    const METHOD: &'static str;\n    /// The `result` type.\n    type Response: serde::de::DeserializeOwned;\n}\n\n")
    used = set()
    for m, p in client:
        if not m or not p or p in used or not p.endswith("Params"):
            continue
        resp = p[: -len("Params")] + "Response"
        if resp not in g.out or g.kind.get(p) != "struct":
            continue
        used.add(p)
        w.append(f"impl ClientRequest for {p} {{\n    const METHOD: &'static str = {json.dumps(m)};\n    type Response = {resp};\n}}\n\n")
    w.append("/// Every client request method of this protocol version.\npub const CLIENT_REQUEST_METHODS: &[&str] = &[\n")
    for m, _ in client:
        if m:
            w.append(f"    {json.dumps(m)},\n")
    w.append("];\n\n")

    def dispatch(enum, items, doc_line, params_kind):
        vnames = []
        seen = set()
        for m, p in items:
            if not m:
                continue
            vn = pascal(m)
            while vn in seen or vn == "Unknown":
                vn += "_"
            seen.add(vn)
            vnames.append((vn, m, p if p in g.out else None))
        s = f"/// {doc_line}\n#[derive(Debug, Clone, PartialEq)]\n#[non_exhaustive]\npub enum {enum} {{\n"
        for vn, m, p in vnames:
            s += f"    /// `{m}`\n    {vn}({p or 'Value'}),\n"
        s += f"    /// A method this version does not know, or {params_kind} that did not decode; kept whole.\n"
        s += "    Unknown {\n        /// The method.\n        method: String,\n        /// The raw params.\n        params: Value,\n    },\n}\n\n"
        s += f"impl {enum} {{\n"
        s += "    /// Decodes by method; never fails (falls back to `Unknown`).\n"
        s += "    pub fn decode(method: &str, params: Value) -> Self {\n        match method {\n"
        for vn, m, p in vnames:
            if p:
                s += f"            {json.dumps(m)} => match {p}::deserialize(&params) {{\n                Ok(v) => Self::{vn}(v),\n                Err(_) => Self::Unknown {{ method: method.to_owned(), params }},\n            }},\n"
            else:
                s += f"            {json.dumps(m)} => Self::{vn}(params),\n"
        s += "            _ => Self::Unknown { method: method.to_owned(), params },\n        }\n    }\n\n"
        s += "    /// The method name.\n    pub fn method(&self) -> &str {\n        match self {\n"
        for vn, m, p in vnames:
            s += f"            Self::{vn}(_) => {json.dumps(m)},\n"
        s += "            Self::Unknown { method, .. } => method,\n        }\n    }\n\n"
        s += "    /// The params as JSON (what was received, for `Unknown`).\n    pub fn params(&self) -> Value {\n        match self {\n"
        for vn, m, p in vnames:
            s += f"            Self::{vn}(v) => serde_json::to_value(v).unwrap_or(Value::Null),\n"
        s += "            Self::Unknown { params, .. } => params.clone(),\n        }\n    }\n}\n\n"
        return s

    w.append(dispatch("ServerNotification", notes, "A server-to-client notification, decoded by method.", "params"))
    w.append(dispatch("ServerRequest", server_req, "A server-to-client request, decoded by method.", "params"))
    with open(out_path, "w") as f:
        f.write("".join(w))


if __name__ == "__main__":
    main()
