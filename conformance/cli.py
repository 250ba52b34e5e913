"""The ``conformance`` command: inventory tools now; sim, clean and report join it later."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from conformance import inventory

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


def _validate(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.paths:
        try:
            loaded = inventory.load(path)
        except inventory.InventoryError as exc:
            failed += 1
            print(exc.render(), file=sys.stderr)
            continue
        entries = ", ".join(entry.name for entry in loaded.storage)
        target = "embedded sim" if loaded.cluster.sim else (loaded.cluster.context or "kubeconfig")
        print(f"{path}: ok (cluster: {target}; storage: {entries})")
    return EXIT_INVALID if failed else EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    print(json.dumps(inventory.json_schema(), indent=2))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="conformance",
        description="Conformance harness for stateful storage on Kubernetes.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    inv = commands.add_parser("inventory", help="validate inventories, print their schema")
    inv_commands = inv.add_subparsers(dest="inventory_command", metavar="ACTION", required=True)
    validate = inv_commands.add_parser("validate", help="check inventory files, list bad fields")
    validate.add_argument("paths", nargs="+", metavar="PATH")
    validate.set_defaults(handler=_validate)
    schema = inv_commands.add_parser("schema", help="print the inventory's JSON Schema")
    schema.set_defaults(handler=_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    raise SystemExit(main())
