#!/usr/bin/python3
# json-validate.py SCHEMA FILE...: validates each FILE (one JSON document)
# against SCHEMA with python3-jsonschema, an implementation independent of
# ours; the schema itself is checked against its metaschema first.  Exit 0
# when every file is valid, 1 otherwise (the errors on stderr).
import json
import sys

import jsonschema


def main():
    with open(sys.argv[1]) as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)
    bad = 0
    for path in sys.argv[2:]:
        with open(path) as f:
            doc = json.load(f)
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in e.absolute_path)
            print("%s: /%s: %s" % (path, where, e.message), file=sys.stderr)
            bad = 1
    return bad


sys.exit(main())
