#!/usr/bin/env python3
"""Turn a Kubernetes OpenAPI v2 document (api/openapi-spec/swagger.json of k8s.io/kubernetes) into
one strict JSON schema per kind, laid out the way kubeconform's schema-location template
`{{ .ResourceKind }}{{ .KindSuffix }}.json` expects (e.g. statefulset-apps-v1.json,
networkpolicy-networking-v1.json, service-v1.json).

Strict means every object that lists its properties rejects any other property, so a misspelt
field in a rendered manifest fails validation instead of being dropped by the API server.

Usage: k8s-json-schemas.py SWAGGER_JSON OUT_DIR
"""
import json
import os
import sys

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
REF_PREFIX = "#/definitions/"


def tighten(node):
    """Copy of a schema node with additionalProperties: false on every object with properties."""
    if isinstance(node, list):
        return [tighten(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: tighten(value) for key, value in node.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def special(name, definition):
    # These are strings in the OpenAPI document but accept numbers on the wire.
    if name == INT_OR_STRING:
        return {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    if name == QUANTITY:
        return {"oneOf": [{"type": "string"}, {"type": "number"}]}
    return tighten(definition)


def refs(node, found):
    if isinstance(node, list):
        for item in node:
            refs(item, found)
    elif isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            found.add(ref[len(REF_PREFIX):])
        for value in node.values():
            refs(value, found)


def closure(root, definitions):
    seen, todo = set(), [root]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        found = set()
        refs(definitions[name], found)
        todo.extend(found - seen)
    return seen


def file_name(group, version, kind):
    # kubeconform: KindSuffix is "-<first label of the group>-<version>", or "-<version>" for core.
    suffix = f"-{group.split('.')[0].lower()}-{version.lower()}" if group else f"-{version.lower()}"
    return f"{kind.lower()}{suffix}.json"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: k8s-json-schemas.py SWAGGER_JSON OUT_DIR")
    swagger_path, out_dir = sys.argv[1], sys.argv[2]
    try:
        with open(swagger_path, encoding="utf-8") as handle:
            definitions = json.load(handle)["definitions"]
    except (OSError, ValueError, KeyError) as err:
        sys.exit(f"cannot read OpenAPI definitions from {swagger_path}: {err}")
    os.makedirs(out_dir, exist_ok=True)
    written = 0
    for name, definition in definitions.items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            group, version, kind = gvk.get("group", ""), gvk["version"], gvk["kind"]
            api_version = f"{group}/{version}" if group else version
            schema = special(name, definition)
            schema["$schema"] = "http://json-schema.org/draft-07/schema#"
            props = schema.setdefault("properties", {})
            props["apiVersion"] = {"type": "string", "enum": [api_version]}
            props["kind"] = {"type": "string", "enum": [kind]}
            schema["definitions"] = {
                dep: special(dep, definitions[dep]) for dep in sorted(closure(name, definitions)) if dep != name
            }
            # Self-references (e.g. JSONSchemaProps) need the root under its own name too.
            schema["definitions"][name] = special(name, definition)
            path = os.path.join(out_dir, file_name(group, version, kind))
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(schema, handle, separators=(",", ":"))
            written += 1
    if written == 0:
        sys.exit(f"no kinds found in {swagger_path}")
    print(f"wrote {written} schemas to {out_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
