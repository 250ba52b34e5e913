"""``conformance sim ...``: start, inspect, fault and stop the embedded simulated cluster.

Registered through the ``conformance.commands`` entry point, so the harness's command
line gains these subcommands without importing the simulator.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from conformance import inventory
from conformance.sim import faults
from conformance.sim.provider import SimSettings

EXIT_OK = 0
EXIT_INVALID = 1


def _parse_fault(text: str) -> tuple[str, float | None]:
    name, _, raw = text.partition("=")
    value: float | bool | None = None
    if raw:
        try:
            value = float(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"--fault {text}: the value must be a number"
            ) from None
    try:
        return name, faults.check_value(name, value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _sim_up(args: argparse.Namespace) -> int:
    from conformance.sim import lifecycle
    from conformance.sim.control_plane import SimConfig

    base: dict[str, Any] | None = None
    settings: dict[str, float | bool | None] = {}
    if args.inventory:
        try:
            loaded = inventory.load(args.inventory)
        except inventory.InventoryError as exc:
            print(exc.render(), file=sys.stderr)
            return EXIT_INVALID
        base = loaded.model_dump(
            mode="json", include={"nodes", "storage", "workload", "timeouts"}, exclude_none=True
        )
        if loaded.cluster.sim is not None:
            sim_settings = SimSettings.model_validate(loaded.cluster.sim)
            settings.update(sim_settings.faults)
            args.nodes = args.nodes or sim_settings.nodes
            args.profile = args.profile or sim_settings.profile.value
            args.seed = sim_settings.seed if args.seed is None else args.seed
    settings.update(dict(args.fault or []))
    config = SimConfig(
        runtime=args.runtime,
        nodes=args.nodes or 3,
        profile=args.profile or "fast",
        seed=args.seed or 0,
        faults=settings,
        state_dir=str(args.state_dir),
        base_inventory=base,
    )
    try:
        running = lifecycle.up(config)
    except lifecycle.SimError as exc:
        print(f"conformance sim up: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"simulated cluster up: {running.url} (pid {running.pid}, {config.nodes} nodes)")
    print(f"kubeconfig: {running.kubeconfig}")
    print(f"inventory:  {running.inventory}")
    print(f"try: KUBECONFIG={running.kubeconfig} kubectl get nodes")
    return EXIT_OK


def _sim_status(args: argparse.Namespace) -> int:
    from conformance.sim import lifecycle

    running = lifecycle.status(args.state_dir)
    if running is None:
        print(f"no simulated cluster is running (state dir {args.state_dir})")
        return EXIT_INVALID
    info = running.info
    print(f"running: {running.url} (pid {running.pid})")
    print(f"nodes:   {', '.join(info.get('nodes', []))}")
    print(f"profile: {info.get('profile')}")
    print(f"faults:  {_fault_text(info.get('faults') or {})}")
    print(f"kubeconfig: {running.kubeconfig}")
    return EXIT_OK


def _sim_down(args: argparse.Namespace) -> int:
    from conformance.sim import lifecycle

    stopped = lifecycle.down(args.state_dir)
    print("simulated cluster stopped" if stopped else "no simulated cluster was running")
    return EXIT_OK


def _sim_clean(args: argparse.Namespace) -> int:
    from conformance.sim import lifecycle
    from conformance.sim.kernel import cleanup

    if os.geteuid() != 0:
        print("conformance sim clean: needs root (it removes namespaces, mounts, loop devices)")
        return EXIT_INVALID
    report = cleanup.clean(cleanup.find_leftovers())
    print(report)
    if lifecycle.status(args.state_dir) is None and args.state_dir.exists():
        lifecycle.remove_state(args.state_dir)
        print(f"removed {args.state_dir}")
    return EXIT_OK if report.ok else EXIT_INVALID


def _sim_prereqs(args: argparse.Namespace) -> int:
    """Check (and with --install, apt-get install) the tools kernel-backed nodes need."""
    import shutil
    import subprocess

    from conformance.sim import lifecycle

    missing = sorted(
        {pkg for tool, pkg in lifecycle.REQUIRED_TOOLS.items() if not lifecycle.which(tool)}
    )
    if not missing:
        print("the simulated nodes' tools are installed")
        return EXIT_OK
    if not args.install:
        print(f"missing: {' '.join(missing)}; run: apt-get install -y {' '.join(missing)}")
        return EXIT_INVALID
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(
            f"cannot install {' '.join(missing)} (needs root and apt-get); install them "
            "with your package manager"
        )
        return EXIT_INVALID
    print(f"installing {' '.join(missing)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
    ):
        if subprocess.run(argv, env=env, check=False).returncode != 0:
            print(f"`{' '.join(argv)}` failed")
            return EXIT_INVALID
    return EXIT_OK


def _fault_text(active: dict[str, Any]) -> str:
    if not active:
        return "none"
    return ", ".join(name if value is None else f"{name}={value}" for name, value in active.items())


def _admin(state_dir: Path, method: str, path: str, body: Any = None) -> dict[str, Any]:
    from conformance.sim import lifecycle, tls

    running = lifecycle.status(state_dir)
    if running is None:
        raise lifecycle.SimError(f"no simulated cluster is running (state dir {state_dir})")
    token = (state_dir / tls.TOKEN_FILE).read_text().strip()
    context = ssl.create_default_context(cafile=str(state_dir / tls.CA_CERT_FILE))
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        running.url + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            result: dict[str, Any] = json.load(response)
    except urllib.error.HTTPError as exc:
        raise lifecycle.SimError(f"{method} {path}: {exc.code} {exc.read().decode()}") from None
    except OSError as exc:
        raise lifecycle.SimError(f"cannot reach the simulator at {running.url}: {exc}") from None
    return result


def _sim_fault(args: argparse.Namespace) -> int:
    from conformance.sim import lifecycle

    try:
        if args.fault_action == "set":
            result = _admin(args.state_dir, "PUT", "/sim/v1/faults", dict(args.settings))
        elif args.fault_action == "clear":
            suffix = f"/{args.name}" if args.name else ""
            result = _admin(args.state_dir, "DELETE", "/sim/v1/faults" + suffix)
        else:
            result = _admin(args.state_dir, "GET", "/sim/v1/faults")
    except lifecycle.SimError as exc:
        print(f"conformance sim fault: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"active faults: {_fault_text(result.get('faults') or {})}")
    return EXIT_OK


def _faults_catalog(args: argparse.Namespace) -> int:
    for fault in faults.CATALOG:
        value = "" if fault.kind is faults.ValueKind.SWITCH else f"={fault.kind.value}"
        print(f"{fault.name + value:<36} [{fault.layer}] {fault.breaks}")
    return EXIT_OK


def register(commands: Any) -> None:
    """Add ``sim`` to the ``conformance`` command's subcommands."""
    sim = commands.add_parser("sim", help="the embedded simulated cluster")
    sim_commands = sim.add_subparsers(dest="sim_command", metavar="ACTION", required=True)
    state = argparse.ArgumentParser(add_help=False)
    state.add_argument(
        "--state-dir",
        type=Path,
        default=Path("reports/sim"),
        help="where the simulator keeps its kubeconfig, inventory and state (default reports/sim)",
    )
    up = sim_commands.add_parser("up", parents=[state], help="start it in the background")
    up.add_argument("--nodes", type=int, choices=range(1, 17), metavar="N", help="1-16 (default 3)")
    up.add_argument("--profile", choices=("fast", "realistic"), help="latency (default fast)")
    up.add_argument(
        "--runtime",
        choices=("kernel", "memory"),
        default="kernel",
        help="kernel: nodes on namespaces, loop disks and sshd (needs root, the default); "
        "memory: the API and controllers only",
    )
    up.add_argument("--seed", type=int, help="seed for latency jitter (default 0)")
    up.add_argument(
        "--fault",
        action="append",
        type=_parse_fault,
        metavar="NAME[=VALUE]",
        help="switch a fault on (repeatable); `conformance sim faults` lists them",
    )
    up.add_argument(
        "--inventory",
        help="inventory whose storage, workload and timeouts the written inventory carries "
        "(default: inventories/sim.yaml when present)",
        default="inventories/sim.yaml" if Path("inventories/sim.yaml").exists() else None,
    )
    up.set_defaults(handler=_sim_up)
    sim_commands.add_parser("status", parents=[state], help="is it running, where").set_defaults(
        handler=_sim_status
    )
    sim_commands.add_parser(
        "down", parents=[state], help="stop it and remove what it made"
    ).set_defaults(handler=_sim_down)
    sim_commands.add_parser(
        "clean",
        parents=[state],
        help="remove what crashed simulators left (namespaces, mounts, loop devices, processes)",
    ).set_defaults(handler=_sim_clean)
    prereqs = sim_commands.add_parser(
        "prereqs", help="check the tools the simulated nodes need (--install: apt-get them)"
    )
    prereqs.add_argument("--install", action="store_true")
    prereqs.set_defaults(handler=_sim_prereqs)
    sim_commands.add_parser("faults", help="list the named faults").set_defaults(
        handler=_faults_catalog
    )
    fault = sim_commands.add_parser("fault", help="switch faults of a running simulator")
    fault_actions = fault.add_subparsers(dest="fault_action", metavar="ACTION", required=True)
    fault_actions.add_parser("list", parents=[state]).set_defaults(handler=_sim_fault)
    fault_set = fault_actions.add_parser("set", parents=[state])
    fault_set.add_argument("settings", nargs="+", type=_parse_fault, metavar="NAME[=VALUE]")
    fault_set.set_defaults(handler=_sim_fault)
    fault_clear = fault_actions.add_parser("clear", parents=[state])
    fault_clear.add_argument("name", nargs="?", help="one fault (default: all)")
    fault_clear.set_defaults(handler=_sim_fault)
