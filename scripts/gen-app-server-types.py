#!/usr/bin/env python3
"""Generates Rust types for the Codex app-server protocol from the binary's own JSON Schema.

Usage: gen-app-server-types.py SCHEMA_DIR OUT_DIR RELEASE
SCHEMA_DIR is what `codex app-server generate-json-schema --out SCHEMA_DIR` of Codex RELEASE wrote
(checked in under crates/codex-driver/schema/app-server/RELEASE/); only its bundle
`codex_app_server_protocol.schemas.json` is read. OUT_DIR receives one Rust file per namespace
plus mod.rs (it must exist; files in it are overwritten, nothing else is touched).

Type rules (every generated type decodes tolerantly):
- objects -> structs (also without properties); optional/nullable fields -> Option; unknown fields
  kept in `extra` (reported by `UnknownFields`, unless the object has `additionalProperties: true`);
  objects of typed `additionalProperties` -> BTreeMap aliases;
- string enums -> enums with `Unknown(String)`;
- unions tagged by a single-valued property -> internally tagged enums with `Unknown(Value)`
  (properties beside the alternatives go into every variant);
- unions of strings and one-key objects -> externally tagged enums with `Unknown(Value)`;
- `allOf` of a single `$ref` -> that type;
- anything else -> serde_json::Value;
- ClientRequest/ServerRequest/ServerNotification -> method tables and typed dispatch enums.

Namespaces (which file a type goes to; deterministic, from the schema alone):
1. A method's namespace is its first path segment mapped through PREFIX_NAMESPACE
   (`thread/start` -> thread, `threadSection/list` -> thread, `mcpServerStatus/list` -> mcp); a
   prefix the table does not name -> misc.
2. A method's roots are its params type and, for client and server requests, its response type:
   `FooParams` -> `FooResponse`, or RESPONSE_OF for the methods whose names do not pair that way.
   A client method with no response type found is an error (extend RESPONSE_OF).
3. A schema definition belongs to every namespace whose methods' roots reach it through `$ref`s.
   Exactly one namespace: that namespace's file. Several: common.rs. None: unreached.rs (types
   the schema carries that no method uses, e.g. JSON-RPC envelopes).
4. A type the generator makes for an inline schema (a union's variant struct, an inline enum)
   goes wherever the definition it was found in goes.
5. methods.rs holds the `ClientRequest` trait and impls, the method tables and the dispatch
   enums; mod.rs re-exports every file (`pub use thread::*;`), so each type is `protocol::Name`.
Client methods without params (`params: null`) get a unit struct `FooParams` named after their
`FooResponse`, which serializes as `null`, so every client method has a `ClientRequest` type.
"""
import json
import os
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
        self.origin = {}  # name -> the schema definition whose generation emitted it
        self.current = None  # the definition being generated
        self.shape = {}  # name -> what the `UnknownFields` impl walks (see `unknown_impl`)
        self.tagged = {}  # internally tagged union -> (tag, [(tag value, variant, payload struct)])
        self.required = {}  # struct -> the JSON names of its required, non-nullable fields

    def ref_name(self, ref):
        return type_name(ref.split("/")[-1])

    def emit(self, name, src, kind):
        if name in self.out:
            return
        self.out[name] = src
        self.kind[name] = kind
        self.origin[name] = self.current
        self.order.append(name)

    # ---- type expressions -------------------------------------------------------------------
    def ty(self, s, ctx):
        """Rust type for schema `s`; `ctx` names inline types. Returns (type, nullable)."""
        if s is True or s == {} or s is None:
            return "Value", False
        if "$ref" in s:
            return self.ref_name(s["$ref"]), False
        # `allOf` around one `$ref` is how the schema attaches a description or default to a ref.
        all_of = s.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict) and "$ref" in all_of[0]:
            return self.ref_name(all_of[0]["$ref"]), False
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
        self.current = name
        if "oneOf" in s or "anyOf" in s:
            self.union(tname, s)
        elif "enum" in s and s.get("type") in (None, "string"):
            vals = [v for v in s["enum"] if v is not None]
            self.string_enum(tname, vals, s.get("description"))
        elif s.get("type") == "object" or "properties" in s:
            ap = s.get("additionalProperties")
            if s.get("properties") or not (isinstance(ap, dict) and ap):
                # An object without properties (`{}` params and responses) is a struct too: it
                # can carry a `ClientRequest` impl, and unknown fields still land in `extra`.
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
        src += DEFAULT_UNKNOWN.format(name=name, value="String::new()")
        del self.out[name]
        self.emit(name, src, "enum")
        self.shape[name] = ("string",)

    def struct(self, name, s, skip=()):
        if name in self.out:
            return
        self.out[name] = ""
        required = set(s.get("required", []))
        fields = []
        ftypes = []
        walk = []
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
            if not optional:
                self.required.setdefault(name, set()).add(pname)
            if optional:
                t = f"Option<{t}>"
                attrs.append('default, skip_serializing_if = "Option::is_none"')
            d = doc(ps.get("description") if isinstance(ps, dict) else None, "    ")
            a = f"    #[serde({', '.join(attrs)})]\n" if attrs else ""
            fields.append(f"{d}{a}    pub {fname}: {t},\n")
            ftypes.append(t)
            walk.append((fname, pname, t))
        # `additionalProperties: true`: further keys are part of the protocol, not news.
        open_object = s.get("additionalProperties") is True
        src = doc(s.get("description"))
        src += "#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]\n"
        src += f"pub struct {name} {{\n" + "".join(fields)
        if open_object:
            src += "    /// Keys beyond the listed ones (the schema allows any).\n"
        else:
            src += "    /// Fields this version of the library does not know.\n"
        src += "    #[serde(flatten)]\n    pub extra: Map<String, Value>,\n}\n"
        del self.out[name]
        self.emit(name, src, "struct")
        self.defaultable[name] = ftypes
        self.shape[name] = ("struct", walk, open_object)

    def union(self, name, s):
        if name in self.out:
            return
        alts = s.get("oneOf") or s.get("anyOf")
        # Properties beside the alternatives (a thread item's `startedAtMs`) belong to each one:
        # the payload is flat on the wire.
        shared = s.get("properties") or {}
        if shared:
            alts = [with_shared(a, shared, s.get("required", [])) for a in alts]
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
                walk = []
                seen = set()
                for a in objs:
                    val = a["properties"][tag]["enum"][0]
                    vn = pascal(str(val))
                    while vn in seen or vn == "Unknown":
                        vn += "_"
                    seen.add(vn)
                    sname = type_name(name + vn)
                    self.struct(sname, a, skip=(tag,))
                    walk.append((vn, None, sname))
                    variants.append(doc(a.get("description"), "    ") + f"    #[serde(rename = {json.dumps(val)})]\n    {vn}({sname}),\n")
                src = doc(desc)
                # Deserialize is by hand (see `tagged_impl`): a known tag whose payload does not
                # fit is repaired field by field instead of falling into `Unknown`.
                src += "#[derive(Debug, Clone, PartialEq, Serialize)]\n#[non_exhaustive]\n"
                src += f"#[serde(tag = {json.dumps(tag)})]\npub enum {name} {{\n" + "".join(variants)
                src += "    /// A variant this version of the library does not know, kept whole.\n    #[serde(untagged)]\n    Unknown(Value),\n}\n"
                src += DEFAULT_UNKNOWN.format(name=name, value="Value::Null")
                del self.out[name]
                self.emit(name, src, "enum")
                self.shape[name] = ("enum", walk)
                self.tagged[name] = (tag, [(a["properties"][tag]["enum"][0], vn, sn) for a, (vn, _, sn) in zip(objs, walk)])
                return
        # 3. strings and one-key objects -> externally tagged
        def one_key(a):
            return a.get("type") == "object" and len(a.get("properties", {})) == 1 and set(a.get("required", [])) == set(a["properties"])
        if all(("enum" in a and a.get("type", "string") == "string") or one_key(a) for a in non_null):
            self.out[name] = ""
            variants = []
            walk = []
            seen = set()
            for a in non_null:
                if "enum" in a:
                    for v in a["enum"]:
                        vn = pascal(str(v))
                        while vn in seen or vn == "Unknown":
                            vn += "_"
                        seen.add(vn)
                        variants.append(f"    #[serde(rename = {json.dumps(v)})]\n    {vn},\n")
                        walk.append((vn, None, None))
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
                    walk.append((vn, k, t))
            src = doc(desc)
            src += "#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]\n#[non_exhaustive]\n"
            src += f"pub enum {name} {{\n" + "".join(variants)
            src += "    /// A variant this version of the library does not know, kept whole.\n    #[serde(untagged)]\n    Unknown(Value),\n}\n"
            src += DEFAULT_UNKNOWN.format(name=name, value="Value::Null")
            del self.out[name]
            self.emit(name, src, "enum")
            self.shape[name] = ("enum", walk)
            return
        self.emit(name, doc(desc) + f"pub type {name} = Value;\n", "alias")

    def is_leaf(self, t):
        """Whether values of Rust type `t` can hold no unknown field (no generated type inside)."""
        for tok in IDENT.findall(t):
            if tok in LEAF_TOKENS:
                continue
            if self.kind.get(tok) == "alias":
                m = re.search(r"= (.*);", self.out[tok])
                if m and self.is_leaf(m.group(1)):
                    continue
            return False
        return True

    def unknown_impl(self, name):
        """The `UnknownFields` impl of generated type `name`."""
        shape = self.shape.get(name)
        if shape is None:
            return ""
        head = f"impl UnknownFields for {name} {{\n    fn collect_unknown(&self, at: &str, out: &mut Vec<String>) {{\n"
        if shape[0] == "unit":
            return f"impl UnknownFields for {name} {{\n    fn collect_unknown(&self, _: &str, _: &mut Vec<String>) {{}}\n}}\n\n"
        if shape[0] == "string":
            body = "        if let Self::Unknown(_) = self {\n            out.push(at.to_owned());\n        }\n"
        elif shape[0] == "struct":
            body = ""
            for fname, pname, t in shape[1]:
                if not self.is_leaf(t):
                    body += f"        self.{fname}.collect_unknown(&format!(\"{{at}}/{fmt_escape(pname)}\"), out);\n"
            if not shape[2]:
                body += "        out.extend(self.extra.keys().map(|k| format!(\"{at}/{k}\")));\n"
            elif not body:
                return f"impl UnknownFields for {name} {{\n    fn collect_unknown(&self, _: &str, _: &mut Vec<String>) {{}}\n}}\n\n"
        else:
            body = "        match self {\n"
            for vn, key, t in shape[1]:
                if t is None:
                    body += f"            Self::{vn} => {{}}\n"
                elif self.is_leaf(t):
                    body += f"            Self::{vn}(_) => {{}}\n"
                elif key is None:  # internally tagged: the payload is the object itself
                    body += f"            Self::{vn}(v) => v.collect_unknown(at, out),\n"
                else:
                    body += f"            Self::{vn}(v) => v.collect_unknown(&format!(\"{{at}}/{fmt_escape(key)}\"), out),\n"
            body += "            Self::Unknown(_) => out.push(at.to_owned()),\n        }\n"
        return head + body + "    }\n}\n\n"

    def repair_impl(self, name, defaults):
        """The `Repair` impl of generated type `name` (and the `Deserialize` of a tagged union)."""
        kind = self.kind.get(name)
        if kind == "alias":
            return ""
        shape = self.shape.get(name)
        if name in self.tagged:
            tag, arms = self.tagged[name]
            src = f"impl<'de> Deserialize<'de> for {name} {{\n    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {{\n"
            src += "        Ok(Self::from_value(Value::deserialize(d)?))\n    }\n}\n\n"
            src += f"impl {name} {{\n    fn from_value(v: Value) -> Self {{\n"
            src += f"        let (tag, body) = match split_tag(v, {json.dumps(tag)}) {{\n            Ok(split) => split,\n            Err(v) => return Self::Unknown(v),\n        }};\n"
            src += "        let decoded = match tag.as_str() {\n"
            for val, vn, sn in arms:
                src += f"            {json.dumps(val)} => {sn}::repair(&body).map(Self::{vn}),\n"
            src += "            _ => None,\n        };\n"
            src += f"        decoded.unwrap_or_else(|| Self::Unknown(join_tag(body, {json.dumps(tag)}, tag)))\n    }}\n}}\n\n"
            src += f"impl Repair for {name} {{\n    fn repair(v: &Value) -> Option<Self> {{\n        Some(Self::from_value(v.clone()))\n    }}\n}}\n\n"
            return src
        if shape and shape[0] == "struct":
            src = f"impl Repair for {name} {{\n    fn repair(v: &Value) -> Option<Self> {{\n"
            src += "        if let Ok(t) = Self::deserialize(v) {\n            return Some(t);\n        }\n"
            keys = ", ".join(json.dumps(pn) for _, pn, _ in shape[1])
            mut = "mut " if shape[1] else ""
            src += f"        let {mut}f = Fields::new(v, &[{keys}])?;\n        Some(Self {{\n"
            for fname, pname, t in shape[1]:
                if t.startswith("Option<"):
                    call = f"f.opt({json.dumps(pname)})"
                elif self.has_default(t, defaults):
                    call = f"f.req({json.dumps(pname)})"
                else:
                    sys.exit(f"gen-app-server-types: {name}.{pname} ({t}) has no Default to repair with")
                src += f"            {fname}: {call},\n"
            src += "            extra: f.finish(),\n        })\n    }\n}\n\n"
            return src
        return f"impl Repair for {name} {{}}\n\n"

    def has_default(self, t, ok):
        if t.startswith(("Option<", "Vec<", "BTreeMap<", "Map<")):
            return True
        if t in ("String", "bool", "i64", "u64", "f64", "Value"):
            return True
        if self.kind.get(t) == "enum":
            return True
        if self.kind.get(t) == "alias":
            src = self.out[t]
            m = re.search(r"= (.*);", src)
            return bool(m) and self.has_default(m.group(1), ok)
        return t in ok

    def defaults(self):
        """Structs whose every field type has a Default."""
        ok = set()
        changed = True

        while changed:
            changed = False
            for name, ftypes in self.defaultable.items():
                if name not in ok and all(self.has_default(t, ok) for t in ftypes):
                    ok.add(name)
                    changed = True
        return ok



# First path segment of a method -> the namespace (file) of the types only its methods reach.
PREFIX_NAMESPACE = {
    "thread": "thread", "threadSection": "thread",
    "turn": "turn", "review": "turn",
    "item": "item", "applyPatchApproval": "item", "execCommandApproval": "item",
    "autoApprovalReview": "item", "serverRequest": "item",
    "account": "account",
    "config": "config", "configRequirements": "config", "configWarning": "config",
    "experimentalFeature": "config", "permissionProfile": "config",
    "mcpServer": "mcp", "mcpServerStatus": "mcp",
    "model": "model", "modelProvider": "model",
    "plugin": "plugin", "marketplace": "plugin", "app": "plugin",
    "skills": "skills",
    "hooks": "hooks", "hook": "hooks",
    "fs": "fs", "fuzzyFileSearch": "fs",
    "command": "command", "process": "command", "windowsSandbox": "command", "windows": "command",
    "externalAgentConfig": "external_agent_config",
}

# Client methods whose response type is not their params type's name with `Response`.
RESPONSE_OF = {
    "account/logout": "LogoutAccountResponse",
    "account/gatewayOAuth/cancel": "GatewayOAuthCancelResponse",
    "account/securitySetup/read": "GetAccountSecuritySetupResponse",
    "account/workspaceMessages/read": "GetWorkspaceMessagesResponse",
    "config/value/write": "ConfigWriteResponse",
    "config/batchWrite": "ConfigWriteResponse",
    # 0.171 has no ModelProviderDefaultSetResponse; the real binary answers a ConfigWriteResponse.
    "modelProvider/default/set": "ConfigWriteResponse",
    "config/mcpServer/reload": "McpServerRefreshResponse",
    "configRequirements/read": "ConfigRequirementsReadResponse",
    "externalAgentConfig/import/readHistories": "ExternalAgentConfigImportHistoriesReadResponse",
    "windowsSandbox/readiness": "WindowsSandboxReadinessResponse",
}

NAMESPACE_DOC = {
    "common": "Types reached by the methods of several namespaces.",
    "unreached": "Types of the schema that no method's params, response or notification reaches.",
    "misc": "Types reached only by methods outside every named namespace (initialize, warnings, errors, feedback, ...).",
}


# An enum's default is its `Unknown` arm: what a repaired message holds where a value was missing.
DEFAULT_UNKNOWN = """
/// `Unknown`: what a repaired message (see [`Repair`]) holds where the value was missing.
impl Default for {name} {{
    fn default() -> Self {{
        Self::Unknown({value})
    }}
}}
"""

REPAIR_RS = """//! [`Repair`]: decoding what a different Codex release sent in a shape these types don't expect.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Decodes a value that may not fit its type, keeping what fits. Implemented by every generated
/// type; the dispatch of notifications, server requests and responses goes through it.
///
/// A value that decodes as is costs nothing more. Otherwise a struct is rebuilt field by field:
/// a missing field is `None` or its type's default, a field whose value does not fit (another
/// type, a changed shape) is `None`/default too and its raw JSON is kept in `extra` under its
/// own name, so re-serializing gives back what was received. A tagged union's known tag whose
/// payload does not fit is repaired the same way, so the variant is still recognized (an enum's
/// default is its `Unknown` arm). Only a struct that is not a JSON object at all cannot be
/// repaired: `None` here, and the message `Unknown` one level up.
pub trait Repair: Sized + DeserializeOwned {
    /// `v` decoded, repaired if it must be; `None` when it cannot be.
    fn repair(v: &Value) -> Option<Self> {
        Self::deserialize(v).ok()
    }
}

impl<T: Repair> Repair for Option<T> {
    fn repair(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::repair(v).map(Some),
        }
    }
}

impl<T: Repair> Repair for Vec<T> {
    fn repair(v: &Value) -> Option<Self> {
        v.as_array()?.iter().map(T::repair).collect()
    }
}

impl<T: Repair> Repair for BTreeMap<String, T> {
    fn repair(v: &Value) -> Option<Self> {
        v.as_object()?
            .iter()
            .map(|(k, v)| T::repair(v).map(|t| (k.clone(), t)))
            .collect()
    }
}

impl Repair for String {}
impl Repair for bool {}
impl Repair for i64 {}
impl Repair for u64 {}
impl Repair for f64 {}
impl Repair for Value {}
impl Repair for Map<String, Value> {}

/// The fields of an object being repaired, and what will be its `extra`.
pub(crate) struct Fields<'a> {
    object: &'a Map<String, Value>,
    extra: Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// `None` when `v` is not an object. Keys outside `known` go to `extra` as they are.
    pub(crate) fn new(v: &'a Value, known: &[&str]) -> Option<Self> {
        let object = v.as_object()?;
        let extra = object
            .iter()
            .filter(|(k, _)| !known.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Some(Self { object, extra })
    }

    /// An optional field: absent, null or not fitting is `None` (the latter kept in `extra`).
    pub(crate) fn opt<T: Repair>(&mut self, key: &str) -> Option<T> {
        match self.object.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => self.fit(key, v),
        }
    }

    /// A required field with a default: absent or not fitting is the default.
    pub(crate) fn req<T: Repair + Default>(&mut self, key: &str) -> T {
        match self.object.get(key) {
            None => T::default(),
            Some(v) => self.fit(key, v).unwrap_or_default(),
        }
    }

    fn fit<T: Repair>(&mut self, key: &str, v: &Value) -> Option<T> {
        let fitted = T::repair(v);
        if fitted.is_none() {
            self.extra.insert(key.to_owned(), v.clone());
        }
        fitted
    }

    /// The `extra` of the repaired object.
    pub(crate) fn finish(self) -> Map<String, Value> {
        self.extra
    }
}

/// Splits the tag off an internally tagged object: `(tag, the rest)`, or the value back when it
/// is not an object with a string tag.
pub(crate) fn split_tag(v: Value, key: &str) -> Result<(String, Value), Value> {
    let Value::Object(mut m) = v else {
        return Err(v);
    };
    match m.remove(key) {
        Some(Value::String(tag)) => Ok((tag, Value::Object(m))),
        Some(other) => {
            m.insert(key.to_owned(), other);
            Err(Value::Object(m))
        }
        None => Err(Value::Object(m)),
    }
}

/// The object [`split_tag`] split, whole again.
pub(crate) fn join_tag(body: Value, key: &str, tag: String) -> Value {
    match body {
        Value::Object(mut m) => {
            m.insert(key.to_owned(), Value::String(tag));
            Value::Object(m)
        }
        other => other,
    }
}
"""


UNKNOWN_RS = """//! [`UnknownFields`]: what a newer Codex sent that these types do not know.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Finds what these types did not know in a decoded value: fields kept in `extra`, and
/// variants or enum values kept as `Unknown`. Implemented by every generated type; a non-empty
/// answer means the server is newer than the schema the types come from (or sent something
/// off-schema).
pub trait UnknownFields {
    /// JSON pointers (`/thread/turns/0/newField`) of every unknown field, variant or value.
    fn unknown_fields(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_unknown("", &mut out);
        out
    }

    /// Appends the JSON pointers of what is unknown in `self`, found at pointer `at`, to `out`.
    fn collect_unknown(&self, at: &str, out: &mut Vec<String>);
}

impl<T: UnknownFields> UnknownFields for Option<T> {
    fn collect_unknown(&self, at: &str, out: &mut Vec<String>) {
        if let Some(v) = self {
            v.collect_unknown(at, out);
        }
    }
}

impl<T: UnknownFields> UnknownFields for Vec<T> {
    fn collect_unknown(&self, at: &str, out: &mut Vec<String>) {
        for (i, v) in self.iter().enumerate() {
            v.collect_unknown(&format!("{at}/{i}"), out);
        }
    }
}

impl<T: UnknownFields> UnknownFields for BTreeMap<String, T> {
    fn collect_unknown(&self, at: &str, out: &mut Vec<String>) {
        for (k, v) in self {
            v.collect_unknown(&format!("{at}/{k}"), out);
        }
    }
}

/// Free-form by the schema: nothing in it is unknown.
macro_rules! known {
    ($($t:ty),*) => {
        $(impl UnknownFields for $t {
            fn collect_unknown(&self, _: &str, _: &mut Vec<String>) {}
        })*
    };
}

known!(String, bool, i64, u64, f64, Value, Map<String, Value>);
"""


def schema_refs(x, acc):
    """Every definition named by a `$ref` inside `x`."""
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "$ref" and isinstance(v, str):
                acc.add(v.split("/")[-1])
            else:
                schema_refs(v, acc)
    elif isinstance(x, list):
        for v in x:
            schema_refs(v, acc)
    return acc


LEAF_TOKENS = {"Option", "Vec", "BTreeMap", "String", "bool", "i64", "u64", "f64", "Value", "Map"}


def with_shared(alt, shared, required):
    """An object alternative of a union with the union's own properties added."""
    if not (isinstance(alt, dict) and alt.get("type") == "object"):
        return alt
    props = dict(alt.get("properties", {}))
    for k, v in shared.items():
        props.setdefault(k, v)
    req = list(alt.get("required", []))
    req += [r for r in required if r not in req]
    return dict(alt, properties=props, required=req)


def fmt_escape(s):
    """`s` inside a `format!` string literal."""
    return json.dumps(s)[1:-1].replace("{", "{{").replace("}", "}}")


def methods(defs, union_name):
    """(method, params definition or None) of each alternative of a request/notification union."""
    out = []
    for alt in defs.get(union_name, {}).get("oneOf", []):
        props = alt.get("properties", {})
        m = props.get("method", {}).get("enum", [None])[0]
        p = props.get("params", {})
        # `params` is a `$ref`, a nullable `anyOf` of one, or `{"type": "null"}` (no params).
        refs = sorted(schema_refs(p, set())) if isinstance(p, dict) else []
        out.append((m, refs[0] if len(refs) == 1 else None))
    return out


def namespace(method):
    return PREFIX_NAMESPACE.get(method.split("/")[0], "misc")


def response_of(method, params):
    if method in RESPONSE_OF:
        return RESPONSE_OF[method]
    if params and params.endswith("Params"):
        return params[: -len("Params")] + "Response"
    return None


def assign_modules(defs, client, server_req, notes):
    """Schema definition -> module, by the rules in the module docstring."""
    graph = {k: schema_refs(v, set()) for k, v in defs.items()}
    reach = {k: set() for k in defs}
    for items, with_response in ((client, True), (server_req, True), (notes, False)):
        for m, p in items:
            if not m:
                continue
            roots = [p] if p else []
            if with_response:
                r = response_of(m, p)
                if r in defs:
                    roots.append(r)
            seen, stack = set(), list(roots)
            while stack:
                n = stack.pop()
                if n in seen or n not in defs:
                    continue
                seen.add(n)
                stack.extend(graph[n])
            for n in seen:
                reach[n].add(namespace(m))
    return {k: ("unreached" if not s else next(iter(s)) if len(s) == 1 else "common") for k, s in reach.items()}


HEADER = (
    "// @generated by scripts/gen-app-server-types.py from crates/codex-driver/schema/app-server/{release}/,\n"
    "// the output of `codex app-server generate-json-schema` of Codex {release}.\n"
    "// Do not edit: regenerate with scripts/app-server-schema.\n"
)

STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
IDENT = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
TYPE_POS = re.compile(r"^\s*pub [a-z_0-9]+: (.+),$|^\s*[A-Z][A-Za-z0-9_]*\((.+)\),$|^pub type [A-Za-z0-9_]+ = (.+);$")


def code_idents(src):
    """Identifiers outside comments and string literals."""
    out = set()
    for line in src.split("\n"):
        s = line.strip()
        if s.startswith("//"):
            continue
        out.update(IDENT.findall(STRING.sub('""', line)))
    return out


def imports(body, own, all_types):
    """The `use` lines a file needs (unused imports would warn)."""
    ids = code_idents(body)
    lines = []
    serde = [n for n in ("Deserialize", "Serialize") if n in ids]
    if serde:
        lines.append(f"use serde::{{{', '.join(serde)}}};\n")
    sj = [n for n in ("Map", "Value") if n in ids]
    if sj:
        lines.append(f"use serde_json::{{{', '.join(sj)}}};\n")
    if "BTreeMap" in ids:
        lines.append("use std::collections::BTreeMap;\n")
    # Types are named in fields (`pub a: T,`), variants (`A(T),`) and aliases (`= T;`) only;
    # variant names may coincide with type names elsewhere.
    used = set()
    for line in body.split("\n"):
        t = TYPE_POS.search(STRING.sub('""', line))
        if t and not line.strip().startswith("//"):
            used.update(IDENT.findall(t.group(1) or t.group(2) or t.group(3)))
    if "impl UnknownFields for" in body or any(i in all_types and i not in own for i in used):
        lines.append("use super::*;\n")
    return "".join(lines)


def main():
    schema_dir, out_dir, release = sys.argv[1], sys.argv[2], sys.argv[3]
    full = json.load(open(f"{schema_dir}/codex_app_server_protocol.schemas.json"))
    defs = {}
    for k, v in full["definitions"].get("v2", {}).items():
        defs[k] = v
    for k, v in full["definitions"].items():
        if k != "v2" and k not in defs:
            defs[k] = v
    g = Gen(defs)
    unions = ("ClientRequest", "ServerRequest", "ServerNotification", "ClientNotification")
    for name in sorted(defs):
        if name in unions:
            continue
        g.define(name, defs[name])

    client = methods(defs, "ClientRequest")
    server_req = methods(defs, "ServerRequest")
    notes = methods(defs, "ServerNotification")
    module_of_def = assign_modules(defs, client, server_req, notes)

    # Client requests: params type (or a unit struct for `params: null`) -> response type.
    requests = []
    impl_for = set()
    for m, p in client:
        if not m:
            continue
        resp = response_of(m, p and type_name(p))
        if resp not in g.out:
            sys.exit(f"gen-app-server-types: no response type for client method `{m}` (params {p}): add it to RESPONSE_OF")
        if p is None:
            p = resp[: -len("Response")] + "Params"
            if p in g.out:
                sys.exit(f"gen-app-server-types: `{m}` takes no params, but {p} is already a schema type")
            g.current = resp
            g.emit(p, f"/// `{m}` takes no params: this sends `null`.\n"
                      "#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]\n"
                      f"pub struct {p};\n", "unit")
            g.shape[p] = ("unit",)
        else:
            p = type_name(p)
        if g.kind.get(p) not in ("struct", "enum", "unit"):
            sys.exit(f"gen-app-server-types: params of `{m}` ({p}) is not a struct or an enum")
        if p in impl_for:
            sys.exit(f"gen-app-server-types: {p} is the params of two client methods")
        impl_for.add(p)
        requests.append((m, p, resp))
    for m in RESPONSE_OF:
        if m not in {c for c, _ in client}:
            sys.exit(f"gen-app-server-types: RESPONSE_OF names `{m}`, which is not a client method of this schema")
    defaults = g.defaults()

    files = {}
    for name in sorted(g.order):
        src = g.out[name]
        if name in defaults:
            src = src.replace("#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]\npub struct", "#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]\npub struct", 1)
        files.setdefault(module_of_def[g.origin[name]], []).append((name, src + "\n" + g.unknown_impl(name) + g.repair_impl(name, defaults)))

    all_types = set(g.out)
    header = HEADER.format(release=release)
    for mod, items in files.items():
        body = "".join(src + "\n" for _, src in items)
        own = {n for n, _ in items}
        prefixes = sorted(p for p, ns in PREFIX_NAMESPACE.items() if ns == mod)
        names = [f"`{p}/*`" for p in prefixes]
        listed = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)
        doc = NAMESPACE_DOC.get(mod) or f"Types reached only by the {listed} methods."
        with open(f"{out_dir}/{mod}.rs", "w") as f:
            f.write(header + f"//! {doc}\n\n" + imports(body, own, all_types) + "\n" + body)

    w = [header, "//! Method tables: typed client requests and the dispatch of server notifications and requests.\n\n"]
    w.append("use serde::Serialize;\nuse serde_json::Value;\n\nuse super::*;\n\n")
    # Client requests: method names and typed request/response pairs.
    w.append("/// A client-to-server request: its method name and response type.\n")
    w.append("pub trait ClientRequest: Serialize {\n    /// JSON-RPC method.\n    const METHOD: &'static str;\n    /// The `result` type.\n    type Response: serde::de::DeserializeOwned + Repair;\n}\n\n")
    for m, p, resp in requests:
        w.append(f"impl ClientRequest for {p} {{\n    const METHOD: &'static str = {json.dumps(m)};\n    type Response = {resp};\n}}\n\n")
    # Client methods some tested release lacks: (method, the newest tested release without it),
    # from the method lists of every tested release (schema/app-server-methods/<release>.txt).
    lists_dir = os.path.join(os.path.dirname(os.path.dirname(schema_dir)), "app-server-methods")
    lists = {}
    if os.path.isdir(lists_dir):
        for f in os.listdir(lists_dir):
            if f.endswith(".txt"):
                lists[f[:-4]] = set(open(os.path.join(lists_dir, f)).read().split())
    def vkey(v):
        return tuple(int(x) for x in v.split("."))
    absent = []
    for m, _ in client:
        if not m:
            continue
        missing = [v for v in lists if m not in lists[v]]
        if missing:
            absent.append((m, max(missing, key=vkey)))
    w.append("/// Client methods that some tested release lacks, with the newest tested release that lacks\n")
    w.append("/// each: a typed request for one of them to a server of that release or older is refused\n")
    w.append("/// before it is sent.\npub const CLIENT_METHOD_ABSENT_UNTIL: &[(&str, &str)] = &[\n")
    for m, v in sorted(absent):
        w.append(f"    ({json.dumps(m)}, {json.dumps(v)}),\n")
    w.append("];\n\n")
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
            p = p and type_name(p)
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
        s += "    /// Decodes by method; never fails. Params of a known method that do not fit the types\n    /// are repaired ([`Repair`]); only params that cannot be are kept whole in `Unknown`.\n"
        s += "    pub fn decode(method: &str, params: Value) -> Self {\n        match method {\n"
        for vn, m, p in vnames:
            if p:
                s += f"            {json.dumps(m)} => match {p}::repair(&params) {{\n                Some(v) => Self::{vn}(v),\n                None => Self::Unknown {{ method: method.to_owned(), params }},\n            }},\n"
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

    def dispatch_unknown(enum, items):
        s = f"impl UnknownFields for {enum} {{\n    fn collect_unknown(&self, at: &str, out: &mut Vec<String>) {{\n        match self {{\n"
        seen = set()
        for m, p in items:
            if not m:
                continue
            p = p and type_name(p)
            vn = pascal(m)
            while vn in seen or vn == "Unknown":
                vn += "_"
            seen.add(vn)
            if p in g.out and not g.is_leaf(p):
                s += f"            Self::{vn}(v) => v.collect_unknown(at, out),\n"
            else:
                s += f"            Self::{vn}(_) => {{}}\n"
        s += "            Self::Unknown { .. } => out.push(at.to_owned()),\n        }\n    }\n}\n\n"
        return s

    w.append(dispatch("ServerNotification", notes, "A server-to-client notification, decoded by method.", "params"))
    w.append(dispatch_unknown("ServerNotification", notes))
    w.append(dispatch_unknown("ServerRequest", server_req))
    w.append(dispatch("ServerRequest", server_req, "A server-to-client request, decoded by method.", "params"))
    with open(f"{out_dir}/methods.rs", "w") as f:
        f.write("".join(w))

    with open(f"{out_dir}/unknown.rs", "w") as f:
        f.write(header + UNKNOWN_RS)
    with open(f"{out_dir}/repair.rs", "w") as f:
        f.write(header + REPAIR_RS)

    mods = sorted(list(files) + ["methods", "unknown", "repair"])
    m = [header]
    m.append(f"//! Codex app-server protocol types, generated from the JSON Schema of Codex {release}.\n//!\n")
    m.append("//! One file per method namespace (see scripts/gen-app-server-types.py for how a type's file is\n")
    m.append("//! chosen); every type is re-exported here, so its path is `protocol::Name`.\n\n")
    for mod in mods:
        m.append(f"mod {mod};\n")
    m.append("\n")
    for mod in mods:
        m.append(f"pub use {mod}::*;\n")
    m.append(f"\n/// The Codex release whose schema these types were generated from.\npub const SCHEMA_RELEASE: &str = {json.dumps(release)};\n")
    with open(f"{out_dir}/mod.rs", "w") as f:
        f.write("".join(m))


if __name__ == "__main__":
    main()
