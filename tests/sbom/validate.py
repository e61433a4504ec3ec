#!/usr/bin/env python3
"""Validates the SBOMs debroot writes, with tools that are not debroot's.

    validate.py spdx FILE.spdx.json       the official SPDX 2.3 JSON schema, then spdx-tools'
                                          own parser and validator (pyspdxtools)
    validate.py cyclonedx FILE.cdx.json   the official CycloneDX 1.5 JSON schema

The schemas come from lib4sbom (PyPI), which ships them byte for byte as SPDX and CycloneDX
publish them (spdx-spec v2.3 schemas/spdx-schema.json; CycloneDX specification
bom-1.5.schema.json with the spdx and jsf schemas it refers to). Prints each problem and exits 1
when there is one; exits 0 silently when the document is valid.
"""

import importlib.util
import json
import pathlib
import sys

import jsonschema
from referencing import Registry, Resource


def schemas():
    spec = importlib.util.find_spec("lib4sbom")
    return pathlib.Path(spec.origin).parent / "schemas"


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def schema_errors(document, schema, registry=None):
    validator = jsonschema.Draft7Validator(schema, registry=registry or Registry())
    return sorted(
        f"schema: {'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in validator.iter_errors(document)
    )


def spdx(path):
    problems = schema_errors(load(path), load(schemas() / "spdx" / "2.3-schema.json"))
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    try:
        document = parse_file(str(path))
    except Exception as error:  # the parser's errors have no common type
        return problems + [f"spdx-tools: cannot parse: {error}"]
    for message in validate_full_spdx_document(document, "SPDX-2.3"):
        problems.append(f"spdx-tools: {message.validation_message} ({message.context})")
    return problems


def cyclonedx(path):
    folder = schemas() / "cyclonedx"
    bom = load(folder / "bom-1.5.schema.json")
    resources = []
    for name in ["bom-1.5.schema.json", "spdx.schema.json", "jsf-0.82.schema.json"]:
        schema = load(folder / name)
        resource = Resource.from_contents(schema)
        resources.append((schema["$id"], resource))
        resources.append((name, resource))
    registry = Registry().with_resources(resources)
    return schema_errors(load(path), bom, registry)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("spdx", "cyclonedx"):
        print(__doc__, file=sys.stderr)
        return 2
    kind, path = sys.argv[1], pathlib.Path(sys.argv[2])
    problems = spdx(path) if kind == "spdx" else cyclonedx(path)
    for problem in problems:
        print(f"{path}: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
