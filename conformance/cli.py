"""The ``conformance`` command: inventories, manifests, and the providers' own commands.

Providers add their subcommands through the ``conformance.commands`` entry point (the
embedded simulator adds ``conformance sim ...``), so this module never imports them.
"""

from __future__ import annotations

import argparse
import json
import os
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


def _from_driver_manifest(args: argparse.Namespace) -> int:
    from conformance import driver_manifest

    try:
        converted = driver_manifest.load(args.path)
    except driver_manifest.ManifestError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_INVALID
    print(converted.render(), end="")
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


def _split_header(text: str) -> tuple[str, int]:
    """A stored capture's body and how many header lines came before it.

    Captures under tests/data/real/ start with ``# source: ...`` lines ending at
    ``# ---``; text without that block (what a node printed, pasted) is all body.
    """
    lines = text.splitlines(keepends=True)
    if not lines or not lines[0].startswith("# "):
        return text, 0
    for index, line in enumerate(lines):
        if line.rstrip("\r\n") == "# ---":
            return "".join(lines[index + 1 :]), index + 1
        if not line.startswith("#"):
            break
    return text, 0


def _probe_parse(args: argparse.Namespace) -> int:
    from conformance.probes import ProbeParseError
    from conformance.probes.kinds import KINDS, to_jsonable

    kind = args.kind
    file = args.file or "-"
    source = "<stdin>" if file == "-" else file
    prefix = f"conformance probe parse: {source}"
    try:
        raw = sys.stdin.read() if file == "-" else Path(file).read_text("utf-8")
    except FileNotFoundError:
        print(f"{prefix}: no such file", file=sys.stderr)
        return EXIT_INVALID
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"{prefix}: cannot read: {reason}", file=sys.stderr)
        return EXIT_INVALID
    body, offset = _split_header(raw)

    def where(line_no: int | None) -> str:
        return f"{prefix}: line {line_no + offset}" if line_no is not None else prefix

    try:
        reading = KINDS[kind].read(body)
    except ProbeParseError as exc:
        shown = f": {exc.line!r}" if exc.line is not None else ""
        print(f"{where(exc.line_no)}: {exc.reason}{shown}", file=sys.stderr)
        return EXIT_INVALID
    except Exception as exc:  # a reader's bug must still give one line, not a traceback
        print(f"{prefix}: cannot read as {kind}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if reading.problems and (args.strict or not reading.items):
        first = reading.problems[0]
        more = len(reading.problems) - 1
        tail = f" ({more} more line{'s' * (more != 1)} not read)" if more else ""
        print(f"{where(first.line_no)}: {first.reason}: {first.line!r}{tail}", file=sys.stderr)
        return EXIT_INVALID
    document = {
        "kind": kind,
        reading.key: to_jsonable(reading.items),
        "problems": [
            {"line": p.line_no + offset, "text": p.line, "problem": p.reason}
            for p in reading.problems
        ],
    }
    print(json.dumps(document, indent=2))
    return EXIT_OK


def _clean(args: argparse.Namespace) -> int:
    """Remove (or with --dry-run list) what runs of the harness left on the cluster."""
    from conformance import clean
    from conformance.cluster import Cluster, ClusterError

    try:
        older = clean.parse_duration(args.older_than) if args.older_than else None
    except ValueError as exc:
        print(f"conformance clean: --older-than: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        loaded = inventory.load(args.inventory)
    except inventory.InventoryError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_INVALID
    if loaded.cluster.provider is not None:
        name = loaded.cluster.provider[0]
        print(
            f"conformance clean: {args.inventory} starts a cluster ({name}:) for each run; "
            "point --inventory at a cluster that exists, e.g. the running simulator's "
            "reports/sim/inventory.yaml (written by `conformance sim up`)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        cluster = Cluster.from_inventory(loaded)
    except ClusterError as exc:
        print(f"conformance clean: {exc}", file=sys.stderr)
        return EXIT_INVALID
    try:
        found = clean.find(cluster, run=args.run, older_than=older)
        if not found:
            print("nothing to remove: no namespace, StorageClass or PV of this harness's runs")
            return EXIT_OK
        if args.dry_run:
            for item in found.items:
                print(f"would remove {item.describe()}")
            return EXIT_OK
        return EXIT_INVALID if clean.remove(cluster, found, print) else EXIT_OK
    finally:
        cluster.close()


def _bundle(args: argparse.Namespace) -> int:
    from conformance.reporting import bundle

    try:
        made = bundle.make(args.reports, args.out or args.reports, root=Path.cwd())
    except bundle.BundleError as exc:
        print(f"conformance bundle: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"bundle: {made}")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from conformance.reporting import bundle

    try:
        checked = bundle.verify(args.bundle)
    except bundle.BundleError as exc:
        print(f"conformance verify: FAILED: {exc}", file=sys.stderr)
        return EXIT_INVALID
    about = checked.about
    print(
        f"{args.bundle}: {checked.files} files match the manifest "
        f"(harness {about.get('harness_version', '?')}, commit {about.get('git_commit', '?')})"
    )
    summary = checked.summary
    print(f"run {summary.get('run', '?')}: {summary.get('verdict', 'no summary in the bundle')}")
    entries = summary.get("entries")
    for entry, facts in sorted(entries.items() if isinstance(entries, dict) else []):
        print(f"  {entry}: {facts.get('verdict')}")
    failures = summary.get("failures")
    for failure in failures if isinstance(failures, list) else []:
        print(f"  FAILED [{failure.get('entry')}] {failure.get('test')}: {failure.get('message')}")
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    """Write the offline single-file HTML report (Allure 3 behind a cover of verdicts)."""
    from conformance.reporting import html

    try:
        made = html.build(
            Path(args.results),
            Path(args.out),
            summary=Path(args.summary) if args.summary else None,
            fingerprint=Path(args.fingerprint) if args.fingerprint else None,
        )
    except html.ReportError as exc:
        print(f"conformance report: {exc}", file=sys.stderr)
        return EXIT_INVALID
    for note in made.notes:
        print(f"note: {note}", file=sys.stderr)
    for item in made.stripped:
        print(f"stripped (would load from the network): {item}")
    size = made.index.stat().st_size / 1e6
    print(f"wrote {made.index} ({size:.1f} MB, {made.seconds:.1f} s); opens offline from file://")
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
    manifest = inv_commands.add_parser(
        "from-driver-manifest",
        help="print an inventory entry for upstream's external storage driver manifest "
        "(e2e.test -storage.testdriver), saying what became of each field",
    )
    manifest.add_argument("path", metavar="DRIVER_YAML")
    manifest.set_defaults(handler=_from_driver_manifest)

    for entry in metadata.entry_points(group=COMMANDS_GROUP):
        try:
            entry.load()(commands)
        except ImportError as exc:  # an extra not installed: say so when it is asked for
            broken = commands.add_parser(entry.name, help=f"(unavailable: {exc})")
            broken.set_defaults(handler=_unavailable(entry.name, exc))

    probe = commands.add_parser("probe", help="read a tool's captured output as the harness does")
    probe_commands = probe.add_subparsers(dest="probe_command", metavar="ACTION", required=True)
    from conformance.probes.kinds import KINDS

    parse = probe_commands.add_parser(
        "parse",
        help="print, as JSON, what the harness reads from a captured output",
        description="Read what a node printed (lsscsi, lsblk -J, mountinfo, ...) the way the "
        "harness does and print it as JSON. Exit 1 with one line naming the line and the "
        "problem when the text cannot be read. Kinds: "
        + "; ".join(f"{k.name}: {k.summary}" for k in KINDS.values()),
    )
    parse.add_argument("kind", choices=sorted(KINDS), metavar="KIND", help="the tool's output")
    parse.add_argument(
        "file", nargs="?", default=None, metavar="FILE", help="the capture, - for stdin (default)"
    )
    parse.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 on the first line read only in part (lsscsi tolerates odd rows)",
    )
    parse.set_defaults(handler=_probe_parse)

    sweep = commands.add_parser(
        "clean",
        help="remove what runs of the harness left on the cluster (by their labels only)",
        description="Removes the namespaces and StorageClasses labelled conformance.io/run, "
        "and the PVs of those classes or of claims in those namespaces. Nothing else. Run "
        "it as a CI job's final step, after a run a timeout may have killed.",
    )
    sweep.add_argument(
        "--inventory",
        default=os.environ.get("CONFORMANCE_INVENTORY", "inventories/sim.yaml"),
        help="the cluster to clean (default: $CONFORMANCE_INVENTORY or inventories/sim.yaml)",
    )
    sweep.add_argument("--run", metavar="ID", help="only what run ID made")
    sweep.add_argument("--older-than", metavar="DURATION", help="only what is older: 30m, 2h, 1d")
    sweep.add_argument("--dry-run", action="store_true", help="list, remove nothing")
    sweep.set_defaults(handler=_clean)

    pack = commands.add_parser(
        "bundle",
        help="pack a run's results, report and fingerprint with a SHA-256 manifest",
    )
    pack.add_argument("--reports", type=Path, default=Path("reports"), help="default reports/")
    pack.add_argument(
        "--out", type=Path, help="a directory or a .tar.gz path (default: the reports dir)"
    )
    pack.set_defaults(handler=_bundle)
    check = commands.add_parser(
        "verify", help="check a bundle against its manifest and print its summary"
    )
    check.add_argument("bundle", type=Path, metavar="BUNDLE")
    check.set_defaults(handler=_verify)
    report = commands.add_parser(
        "report",
        help="write the offline single-file HTML report (Allure Report 3, needs npm)",
        description="Build reports/html/index.html from the Allure results: a cover with "
        "the verdict per storage entry and the cluster fingerprint (summary.json and "
        "fingerprint.json beside the results), then Allure Report 3 in single-file mode, "
        "with its analytics and any remote fonts stripped. It opens from file:// with no "
        "network. Needs Node.js and the project's `npm ci` (or npx).",
    )
    report.add_argument(
        "--results", default="reports/allure-results", help="Allure results (default: %(default)s)"
    )
    report.add_argument(
        "--out", default="reports/html", help="output folder (default: %(default)s)"
    )
    report.add_argument(
        "--summary", metavar="PATH", help="the run's summary.json (default: beside --results)"
    )
    report.add_argument(
        "--fingerprint",
        metavar="PATH",
        help="the cluster's fingerprint.json (default: beside --results)",
    )
    report.set_defaults(handler=_report)

    convert = commands.add_parser(
        "convert-petset", help="convert legacy PetSet manifests (apps/v1alpha1) to apps/v1"
    )
    convert.add_argument("file", metavar="FILE", help="multi-document YAML, - for stdin")
    convert.set_defaults(handler=_convert_petset)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    # argparse leaves FILE unparsed when a flag sits between it and KIND
    # ("probe parse lsscsi --strict FILE"): take it back
    if args.handler is _probe_parse and args.file is None and len(extras) == 1:
        args.file = extras.pop()
    if extras:
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `conformance ... | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code


if __name__ == "__main__":
    raise SystemExit(main())
