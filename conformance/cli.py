"""The ``conformance`` command: inventories, manifests, and the providers' own commands.

Providers add their subcommands through the ``conformance.commands`` entry point (the
embedded simulator adds ``conformance sim ...``), so this module never imports them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from conformance import inventory

COMMANDS_GROUP = "conformance.commands"

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
        chosen = loaded.cluster.provider
        target = f"started by {chosen[0]}" if chosen else (loaded.cluster.context or "kubeconfig")
        print(f"{path}: ok (cluster: {target}; storage: {entries})")
    return EXIT_INVALID if failed else EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    print(json.dumps(inventory.json_schema(), indent=2))
    return EXIT_OK


def _convert_petset(args: argparse.Namespace) -> int:
    from conformance import workloads

    source = "<stdin>" if args.file == "-" else args.file
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    except FileNotFoundError:
        print(f"conformance convert-petset: {source}: no such file", file=sys.stderr)
        return EXIT_INVALID
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"conformance convert-petset: {source}: cannot read: {reason}", file=sys.stderr)
        return EXIT_INVALID
    try:
        converted, warnings = workloads.convert_documents(text)
    except workloads.ConversionError as exc:
        print(f"conformance convert-petset: {source}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    sys.stdout.write(converted)
    return EXIT_OK


def _unavailable(name: str, exc: ImportError) -> Any:
    def handler(args: argparse.Namespace) -> int:
        print(
            f"conformance {name}: cannot load ({exc}); pip install 'conformance[{name}]'",
            file=sys.stderr,
        )
        return EXIT_INVALID

    return handler


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

    for entry in metadata.entry_points(group=COMMANDS_GROUP):
        try:
            entry.load()(commands)
        except ImportError as exc:  # an extra not installed: say so when it is asked for
            broken = commands.add_parser(entry.name, help=f"(unavailable: {exc})")
            broken.set_defaults(handler=_unavailable(entry.name, exc))

    convert = commands.add_parser(
        "convert-petset", help="convert legacy PetSet manifests (apps/v1alpha1) to apps/v1"
    )
    convert.add_argument("file", metavar="FILE", help="multi-document YAML, - for stdin")
    convert.set_defaults(handler=_convert_petset)
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
