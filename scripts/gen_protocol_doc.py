#!/usr/bin/env python3
"""Generates docs/protocol.md from the protocol's sources (python3 standard library only).

Sources, all in the repository:
  schema/agentd.schema.json   the contract: x-methods, x-notifications, x-errors, $defs
  schema/examples/*.json      example exchanges, one file each (validated by
                              tests/e2e/schema-examples.test.mjs)
  docs/protocol-intro.md      hand-written overview (framing, lifecycle, ...), placed first
  docs/protocol-notes.md      hand-written notes per method/notification ("## <method>" sections)
  docs/protocol-topics.md     hand-written topics placed after the reference (limits, ...)

Usage:
  python3 scripts/gen_protocol_doc.py           write docs/protocol.md
  python3 scripts/gen_protocol_doc.py --check   exit 1 when docs/protocol.md differs from what
                                                would be generated, or a source is broken
  python3 scripts/gen_protocol_doc.py --stdout  print instead of writing

Everything is rendered in schema order (examples by file name), so the output is deterministic.
New methods, notifications, error codes and $defs are picked up without changes here.
"""
import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCHEMA = REPO / "schema" / "agentd.schema.json"
EXAMPLES = REPO / "schema" / "examples"
INTRO = REPO / "docs" / "protocol-intro.md"
NOTES = REPO / "docs" / "protocol-notes.md"
TOPICS = REPO / "docs" / "protocol-topics.md"
OUTPUT = REPO / "docs" / "protocol.md"
REGENERATE = "python3 scripts/gen_protocol_doc.py"
WIDTH = 160  # example messages are broken over lines beyond this width


class SourceError(Exception):
    """A source file is missing or malformed; the message names the file and the problem."""


# ---------------------------------------------------------------------------------------------
# Loading sources


def load_json(path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceError(f"{rel(path)}: file not found")
    except json.JSONDecodeError as e:
        raise SourceError(f"{rel(path)}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}")


def load_text(path):
    try:
        return path.read_text(encoding="utf-8").strip("\n") + "\n"
    except FileNotFoundError:
        raise SourceError(f"{rel(path)}: file not found")


def rel(path):
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def load_notes(path, known_names):
    """Splits the notes file into {name: markdown} at '## <name>' headings.

    A heading that names no method or notification of the schema is an error: notes must not
    silently outlive the method they describe.
    """
    notes, current, in_code = {}, None, False
    for line in load_text(path).splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or line.startswith("```"):
            if current is not None:
                notes[current].append(line)
        elif line.startswith("## "):
            current = line[3:].strip().strip("`")
            if current not in known_names:
                raise SourceError(f"{rel(path)}: '## {current}' names no method or notification "
                                  "of schema/agentd.schema.json; rename or remove the section")
            if current in notes:
                raise SourceError(f"{rel(path)}: '## {current}' appears twice")
            notes[current] = []
        elif line.startswith("#") and current is not None and not line.startswith("#### "):
            raise SourceError(f"{rel(path)}: '{line}' inside '## {current}': use '####' or "
                              "deeper for sub-headings (a note is placed under a '###' heading)")
        elif current is not None:
            notes[current].append(line)
    return {name: "\n".join(lines).strip("\n") for name, lines in notes.items()}


def load_examples(directory, known_names):
    """Reads every schema/examples/*.json; returns them sorted by file name."""
    examples = []
    for path in sorted(directory.glob("*.json"), key=lambda p: p.stem):
        example = load_json(path)
        check_example_shape(path, example, known_names)
        example["_file"] = path.name
        examples.append(example)
    return examples


def check_example_shape(path, example, known_names):
    where = rel(path)
    if not isinstance(example, dict) or not isinstance(example.get("transcript"), list):
        raise SourceError(f"{where}: expected an object with a 'transcript' array")
    if example.get("method") not in known_names:
        raise SourceError(f"{where}: 'method' {example.get('method')!r} is not a method or "
                          "notification of the schema")
    if not example["transcript"]:
        raise SourceError(f"{where}: 'transcript' is empty")
    for i, step in enumerate(example["transcript"]):
        if not isinstance(step, dict) or len(step.keys() & {"send", "receive"}) != 1:
            raise SourceError(f"{where}: transcript[{i}] must have exactly one of 'send' "
                              "(client to agentd) and 'receive' (agentd to client)")
        message = step.get("send", step.get("receive"))
        if not isinstance(message, (dict, list)):
            raise SourceError(f"{where}: transcript[{i}] is not a JSON-RPC message or batch")


# ---------------------------------------------------------------------------------------------
# Schema helpers


def def_name(ref):
    return ref.rsplit("/", 1)[-1] if ref.startswith("#/$defs/") else None


def type_anchor(name):
    return "type-" + name.lower()


def method_anchor(name):
    """GitHub's heading slug of '### <name>'."""
    return github_slug(name)


def github_slug(text):
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def resolve(schema, node):
    """Follows a $ref (one level at a time) to the $defs entry."""
    while isinstance(node, dict) and "$ref" in node and def_name(node["$ref"]):
        node = schema["$defs"].get(def_name(node["$ref"]), {})
    return node


def code(value):
    return "`" + json.dumps(value, ensure_ascii=False) + "`"


def cell(text):
    """Makes text safe inside a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


# ---------------------------------------------------------------------------------------------
# Rendering types and constraints


def type_text(schema, node):
    """A short type expression: links for $refs, enums spelled out when small."""
    if not isinstance(node, dict) or not node:
        return "any"
    if "$ref" in node:
        return ref_text(schema, node["$ref"])
    if "const" in node:
        return code(node["const"])
    if "enum" in node:
        return " | ".join(code(v) for v in node["enum"])
    for key in ("anyOf", "oneOf"):
        if key in node and all(isinstance(alt, dict) and ("$ref" in alt or "type" in alt
                                                          or "const" in alt) for alt in node[key]):
            return " | ".join(type_text(schema, alt) for alt in node[key])
    kind = node.get("type")
    if isinstance(kind, list):
        return " | ".join(type_text(schema, {**node, "type": k}) for k in kind)
    if kind == "array":
        item = node.get("items") or (node.get("prefixItems") or [{}])[0]
        return type_text(schema, item) + "[]"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict) \
            and not node.get("properties"):
        return "{string: " + type_text(schema, node["additionalProperties"]) + "}"
    return kind or "any"


def ref_text(schema, ref):
    name = def_name(ref)
    if name is None:
        return f"`{ref}`"
    target = schema["$defs"].get(name, {})
    link = f"[{name}](#{type_anchor(name)})"
    if "enum" in target and len(target["enum"]) <= 4:
        return " | ".join(code(v) for v in target["enum"]) + f" ({link})"
    return link


def constraints(node):
    """Human-readable constraints of one schema node (defaults, enums, ranges, patterns)."""
    parts = []
    if "default" in node:
        parts.append(f"default {code(node['default'])}")
    low, high = node.get("minimum"), node.get("maximum")
    if low is not None and high is not None:
        parts.append(f"{low} to {high}")
    elif low is not None:
        parts.append(f"≥ {low}")
    elif high is not None:
        parts.append(f"≤ {high}")
    for key, label in (("exclusiveMinimum", ">"), ("exclusiveMaximum", "<")):
        if key in node:
            parts.append(f"{label} {node[key]}")
    for key, label in (("minLength", "at least {} characters"), ("maxLength", "at most {} characters"),
                       ("minItems", "at least {} items"), ("maxItems", "at most {} items"),
                       ("format", "format {}"), ("contentEncoding", "encoded as {}")):
        if key in node:
            parts.append("non-empty" if key in ("minLength", "minItems") and node[key] == 1
                         else label.format(node[key]))
    if node.get("uniqueItems"):
        parts.append("items unique")
    if "pattern" in node:
        parts.append(f"pattern `{node['pattern']}`")
    if "examples" in node:
        parts.append("e.g. " + ", ".join(code(v) for v in node["examples"][:4]))
    return parts


def field_description(schema, node):
    """The description column: the field's own description, else its type's, plus constraints."""
    text = node.get("description") or resolve(schema, node).get("description", "")
    parts = [text.strip()] if text else []
    extra = constraints(node)
    items = node.get("items")
    if node.get("type") == "array" and isinstance(items, dict) and "$ref" not in items:
        extra += [f"each: {c}" for c in constraints(items)]
    if extra:
        parts.append("(" + "; ".join(extra) + ")")
    return " ".join(parts)


def property_rows(schema, node, prefix=""):
    """Rows (field, type, required, description) of an object schema; inline objects expand."""
    rows = []
    required = set(node.get("required", []))
    for name, prop in node.get("properties", {}).items():
        field = prefix + name
        rows.append((f"`{field}`", type_text(schema, prop), "yes" if name in required else "no",
                     field_description(schema, prop)))
        if prop.get("type") == "object" and prop.get("properties") and "$ref" not in prop:
            rows += property_rows(schema, prop, field + ".")
    return rows


def object_table(schema, node):
    rows = property_rows(schema, node)
    lines = ["| field | type | required | description |", "| --- | --- | --- | --- |"]
    lines += [f"| {cell(f)} | {cell(t)} | {r} | {cell(d)} |" for f, t, r, d in rows]
    extra = node.get("additionalProperties")
    if extra is True or (extra is None and node.get("type") == "object"):
        lines.append("\nOther fields are accepted and ignored.")
    return "\n".join(lines)


def describe_shape(schema, ref_node, what):
    """Params or result of a method or notification: a sentence plus a table where one fits."""
    name = def_name(ref_node.get("$ref", "")) if isinstance(ref_node, dict) else None
    node = resolve(schema, ref_node)
    head = f"**{what}**" + (f" ([{name}](#{type_anchor(name)}))" if name else "")
    description = node.get("description", "").strip()
    if node.get("type") == "null":
        return f"{head}: `null`. {description}".rstrip()
    if node.get("type") == "object" and not node.get("properties"):
        if node.get("additionalProperties") is False:
            return f"{head}: none (an empty object `{{}}`, or omit `params`). {description}".rstrip() \
                if what == "Params" else f"{head}: an empty object `{{}}`. {description}".rstrip()
        return f"{head}: any object. {description}".rstrip()
    if node.get("properties"):
        return f"{head}: {description}".rstrip() + f"\n\n{object_table(schema, node)}"
    return f"{head}: {type_text(schema, node)}. {description}".rstrip()


# ---------------------------------------------------------------------------------------------
# Rendering examples


def render_json(value, indent=0, lead=0):
    """Compact JSON, broken over lines only where a value does not fit in WIDTH.

    indent: the indentation of the value's own lines; lead: how many characters already stand
    before the value on its first line.
    """
    flat = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if lead + len(flat) <= WIDTH or not isinstance(value, (dict, list)) or not value:
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            prefix = json.dumps(key, ensure_ascii=False) + ":"
            items.append(pad + prefix + render_json(item, indent + 2, indent + 2 + len(prefix)))
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + render_json(v, indent + 2, indent + 2) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def render_transcript(example):
    lines = []
    for step in example["transcript"]:
        arrow, message = ("-->", step["send"]) if "send" in step else ("<--", step["receive"])
        lines.append(f"{arrow} {render_json(message, 4, 4)}")
    return "```json\n" + "\n".join(lines) + "\n```"


def render_example(example):
    parts = []
    if example.get("title"):
        parts.append(f"*Example: {example['title']}*")
    if example.get("description"):
        parts.append(example["description"].strip())
    if example.get("setup"):
        steps = [f"`{m.get('method')} {json.dumps(m.get('params', {}), ensure_ascii=False, separators=(',', ':'))}`"
                 for m in example["setup"]]
        parts.append("Earlier in the session (not shown): " + ", then ".join(steps) + ".")
    parts.append(render_transcript(example))
    return "\n\n".join(parts)


def messages_of(example):
    for step in example["transcript"]:
        message = step.get("send", step.get("receive"))
        for m in message if isinstance(message, list) else [message]:
            yield ("send" in step), m


def borrowed_notification_example(name, examples):
    """For a notification without its own example: its first occurrence in any example."""
    for example in examples:
        for sent, message in messages_of(example):
            if isinstance(message, dict) and message.get("method") == name and "id" not in message:
                arrow = "-->" if sent else "<--"
                source = example["method"]
                return (f"*Example, from the [{source}](#{method_anchor(source)}) example "
                        f"({example.get('title', example['_file'])}):*\n\n"
                        f"```json\n{arrow} {render_json(message, 4, 4)}\n```")
    return None


# ---------------------------------------------------------------------------------------------
# Sections


GENERATED_BANNER = (
    "<!-- GENERATED FILE: do not edit. Made by scripts/gen_protocol_doc.py from\n"
    "     schema/agentd.schema.json, schema/examples/*.json and docs/protocol-{intro,notes,topics}.md.\n"
    f"     Edit those, then run: {REGENERATE} -->\n")


def summary_of(schema, entry, note):
    for text in (entry.get("summary"), entry.get("description"), first_sentence(note),
                 resolve(schema, entry.get("params", {})).get("description")):
        if text:
            return first_sentence(text)
    return ""


def first_sentence(text):
    """The first sentence of the first paragraph, unless that paragraph is a table, list or code."""
    if not text:
        return ""
    paragraph = text.strip().split("\n\n")[0].replace("\n", " ")
    if paragraph.startswith(("|", "```", "-", "*", "<")):
        return ""
    match = re.match(r"(.+?\.)(\s|$)", paragraph)
    return match.group(1) if match else paragraph


def errors_section(schema):
    users = methods_by_error(schema)
    lines = ["## Error codes", "",
             "Every error code agentd sends (`x-errors` in the schema). Error responses carry "
             "`code`, `message` and sometimes `data` ([ErrorData](#type-errordata)).", "",
             "| code | name | meaning |" + (" methods |" if users else ""),
             "| --- | --- | --- |" + (" --- |" if users else "")]
    for error in schema.get("x-errors", []):
        row = f"| {error['code']} | {error.get('name', '')} | {cell(error.get('meaning', ''))} |"
        if users:
            row += " " + ", ".join(f"[{m}](#{method_anchor(m)})"
                                   for m in users.get(error["code"], [])) + " |"
        lines.append(row)
    return "\n".join(lines)


def declared_errors(entry):
    """The error codes an x-methods entry declares ('errors': [code | {code, when}]), if any."""
    for item in entry.get("errors", []):
        yield (item, "") if isinstance(item, int) else (item.get("code"), item.get("when", ""))


def methods_by_error(schema):
    users = {}
    for method, entry in schema.get("x-methods", {}).items():
        for error_code, _ in declared_errors(entry):
            users.setdefault(error_code, []).append(method)
    return users


def method_errors(schema, entry):
    names = {e["code"]: e.get("name", "") for e in schema.get("x-errors", [])}
    rows = [f"| {c} | {names.get(c, '')} | {cell(when)} |" for c, when in declared_errors(entry)]
    if not rows:
        return None
    return "**Errors**\n\n| code | name | when |\n| --- | --- | --- |\n" + "\n".join(rows)


def index_table(schema, entries, notes, with_direction):
    head = "| name | direction | summary |" if with_direction else "| method | summary |"
    lines = [head, "| --- | --- | --- |" if with_direction else "| --- | --- |"]
    for name, entry in entries.items():
        summary = cell(summary_of(schema, entry, notes.get(name)))
        link = f"[`{name}`](#{method_anchor(name)})"
        if with_direction:
            lines.append(f"| {link} | {direction_text(entry)} | {summary} |")
        else:
            lines.append(f"| {link} | {summary} |")
    return "\n".join(lines)


def direction_text(entry):
    return {"toServer": "client → agentd", "toClient": "agentd → client"}.get(
        entry.get("direction"), entry.get("direction", "either"))


def method_section(schema, name, entry, note, examples):
    parts = [f"### {name}"]
    if entry.get("description"):
        parts.append(entry["description"].strip())
    if note:
        parts.append(note)
    parts.append(describe_shape(schema, entry.get("params", {}), "Params"))
    parts.append(describe_shape(schema, entry.get("result", {}), "Result"))
    errors = method_errors(schema, entry)
    if errors:
        parts.append(errors)
    parts += [render_example(e) for e in examples]
    return "\n\n".join(parts)


def notification_section(schema, name, entry, note, own_examples, all_examples):
    parts = [f"### {name}", f"Direction: {direction_text(entry)}."]
    if entry.get("description"):
        parts.append(entry["description"].strip())
    if note:
        parts.append(note)
    parts.append(describe_shape(schema, entry.get("params", {}), "Params"))
    parts += [render_example(e) for e in own_examples]
    if not own_examples:
        borrowed = borrowed_notification_example(name, all_examples)
        if borrowed:
            parts.append(borrowed)
    return "\n\n".join(parts)


def used_as_shape(schema):
    """$defs name -> 'params of X' / 'result of X', for defs rendered in a method section."""
    uses = {}
    for kind in ("x-methods", "x-notifications"):
        for name, entry in schema.get(kind, {}).items():
            for part in ("params", "result"):
                target = def_name(entry.get(part, {}).get("$ref", ""))
                if target:
                    uses.setdefault(target, []).append(f"{part} of [{name}](#{method_anchor(name)})")
    return uses


def type_section(schema, name, node, uses):
    parts = [f'<a id="{type_anchor(name)}"></a>\n\n#### {name}']
    if node.get("description"):
        parts.append(node["description"].strip())
    if name in uses:
        parts.append("The " + ", ".join(uses[name]) + " (fields listed there).")
        return "\n\n".join(parts)
    if node.get("properties"):
        parts.append(object_table(schema, node))
    elif "anyOf" in node or "oneOf" in node or "type" in node or "enum" in node or "const" in node:
        extra = constraints(node)
        parts.append(f"Type: {type_text(schema, node)}" + (f" ({'; '.join(extra)})" if extra else "") + ".")
    return "\n\n".join(parts)


def contents(document):
    headings, in_code = [], False
    for line in document.splitlines():
        in_code = in_code != line.startswith("```")
        if not in_code and line.startswith("## "):
            headings.append(line[3:])
    return "Contents: " + " · ".join(f"[{h}](#{github_slug(h)})" for h in headings)


# ---------------------------------------------------------------------------------------------
# Whole document


def generate():
    schema = load_json(SCHEMA)
    methods = schema.get("x-methods", {})
    notifications = schema.get("x-notifications", {})
    known = set(methods) | set(notifications)
    notes = load_notes(NOTES, known)
    examples = load_examples(EXAMPLES, known)
    by_name = {}
    for example in examples:
        by_name.setdefault(example["method"], []).append(example)

    body = [errors_section(schema), "## Methods", index_table(schema, methods, notes, False)]
    body += [method_section(schema, n, e, notes.get(n), by_name.get(n, [])) for n, e in methods.items()]
    body += ["## Notifications", index_table(schema, notifications, notes, True)]
    body += [notification_section(schema, n, e, notes.get(n), by_name.get(n, []), examples)
             for n, e in notifications.items()]
    body.append(load_text(TOPICS).strip("\n"))
    uses = used_as_shape(schema)
    body += ["## Types", "Every `$defs` entry of the schema, in schema order."]
    body += [type_section(schema, n, d, uses) for n, d in schema.get("$defs", {}).items()]

    intro = load_text(INTRO).strip("\n")
    rest = "\n\n".join(body)
    title, _, intro_body = intro.partition("\n")
    preamble, heading, sections = intro_body.partition("\n## ")
    document = "\n\n".join([title, GENERATED_BANNER.rstrip("\n"), preamble.strip("\n"), "CONTENTS",
                            (heading.lstrip("\n") + sections).strip("\n"), rest]) + "\n"
    document = document.replace("\nCONTENTS\n", "\n" + contents(document) + "\n", 1)
    check_links(document)
    return document, missing_examples(methods, notifications, by_name, examples)


def missing_examples(methods, notifications, by_name, examples):
    missing = [m for m in methods if m not in by_name]
    missing += [n for n in notifications
                if n not in by_name and borrowed_notification_example(n, examples) is None]
    return missing


def anchors_of(document):
    """GitHub's anchors of a markdown document: heading slugs (-1, -2 for repeats) and <a id>."""
    anchors, seen = set(re.findall(r'<a id="([^"]+)"></a>', document)), {}
    in_code = False
    for line in document.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        match = re.match(r"(#{1,6}) (.*)", line) if not in_code else None
        if match:
            slug = github_slug(re.sub(r"[`*]", "", match.group(2)))
            anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
            seen[slug] = seen.get(slug, 0) + 1
    return anchors


def check_links(document):
    """Every in-document link (#anchor) must name a heading or an explicit <a id>."""
    anchors = anchors_of(document)
    broken = sorted({a for a in re.findall(r"\]\(#([^)]+)\)", document) if a not in anchors})
    if broken:
        raise SourceError("links to missing anchors in the generated docs/protocol.md: "
                          + ", ".join("#" + b for b in broken)
                          + " (fix the link in docs/protocol-*.md, or the heading it points to)")


def external_link_warnings(document):
    """Links from the other docs (and README.md) into protocol.md that name no anchor of it."""
    anchors = anchors_of(document)
    warnings = []
    for path in sorted((REPO / "docs").glob("*.md")) + [REPO / "README.md"]:
        if path == OUTPUT or not path.exists():
            continue
        for anchor in sorted(set(re.findall(r"protocol\.md#([\w-]+)", path.read_text(encoding="utf-8")))):
            if anchor not in anchors:
                warnings.append(f"{rel(path)} links to protocol.md#{anchor}, which does not exist")
    return warnings


def main():
    parser = argparse.ArgumentParser(description="Generate docs/protocol.md from schema/.")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if docs/protocol.md is stale or a source is broken")
    parser.add_argument("--stdout", action="store_true", help="print instead of writing")
    args = parser.parse_args()
    try:
        document, missing = generate()
    except SourceError as e:
        print(f"gen_protocol_doc: {e}", file=sys.stderr)
        return 1
    if missing:
        print("gen_protocol_doc: warning: no example in schema/examples/ for: "
              + ", ".join(missing), file=sys.stderr)
    for warning in external_link_warnings(document):
        print(f"gen_protocol_doc: warning: {warning}", file=sys.stderr)
    if args.stdout:
        sys.stdout.write(document)
        return 0
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != document:
            print(f"docs/protocol.md is stale: run {REGENERATE}", file=sys.stderr)
            return 1
        print("docs/protocol.md is up to date")
        return 0
    OUTPUT.write_text(document, encoding="utf-8")
    print(f"wrote {rel(OUTPUT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
