"""Where a volume is reachable: a PV's nodeAffinity and a class's allowedTopologies read
against the nodes' labels, as the scheduler reads them.

Pure: objects come in as the API's JSON (camelCase dicts, e.g. from
``ApiClient.sanitize_for_serialization``), so the checks built on this can be tested
with captured objects and never touch a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Json = Mapping[str, Any]


@dataclass(frozen=True)
class NodeFacts:
    """A node as placement sees it: its name, labels and whether it is cordoned."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    unschedulable: bool = False

    @classmethod
    def of(cls, node: Json) -> NodeFacts:
        meta = node.get("metadata") or {}
        return cls(
            name=str(meta.get("name", "")),
            labels={str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
            unschedulable=bool((node.get("spec") or {}).get("unschedulable")),
        )


def _requirement(values: Mapping[str, str], req: Json) -> bool:
    key, operator = str(req.get("key", "")), str(req.get("operator", ""))
    wanted = [str(v) for v in req.get("values") or []]
    present = key in values
    if operator == "In":
        return present and values[key] in wanted
    if operator == "NotIn":
        return not present or values[key] not in wanted
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(wanted) == 1:
        try:
            have, limit = int(values[key]), int(wanted[0])
        except ValueError:
            return False
        return have > limit if operator == "Gt" else have < limit
    return False


def node_selector_matches(terms: Sequence[Json] | None, node: NodeFacts) -> bool:
    """v1.NodeSelector: any term matches; an empty term matches nothing; no terms, all."""
    if not terms:
        return True
    fields = {"metadata.name": node.name}
    for term in terms:
        expressions = term.get("matchExpressions") or []
        by_field = term.get("matchFields") or []
        if not expressions and not by_field:
            continue
        if all(_requirement(node.labels, r) for r in expressions) and all(
            _requirement(fields, r) for r in by_field
        ):
            return True
    return False


def topology_matches(terms: Sequence[Json] | None, node: NodeFacts) -> bool:
    """A class's allowedTopologies: no terms allow every node; else any term whose
    every expression has the node's label among its values."""
    if not terms:
        return True
    return any(
        all(
            node.labels.get(str(e.get("key", ""))) in [str(v) for v in e.get("values") or []]
            for e in term.get("matchLabelExpressions") or []
        )
        for term in terms
    )


def volume_terms(pv: Json) -> list[Json]:
    """The nodeSelectorTerms of a PV's required nodeAffinity ([]: reachable everywhere)."""
    required = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}
    return list(required.get("nodeSelectorTerms") or [])


def reachable(pv: Json, nodes: Sequence[NodeFacts]) -> list[NodeFacts]:
    """The nodes a PV's nodeAffinity admits."""
    terms = volume_terms(pv)
    return [node for node in nodes if node_selector_matches(terms, node)]


def describe_selector(terms: Sequence[Json]) -> str:
    """``topology.kubernetes.io/zone in [zone-a]`` (terms joined by ``or``)."""
    if not terms:
        return "any node"
    described = []
    for term in terms:
        parts = [
            f"{r.get('key')} {str(r.get('operator', '')).lower()} "
            f"[{', '.join(str(v) for v in r.get('values') or [])}]"
            for r in [*(term.get("matchExpressions") or []), *(term.get("matchFields") or [])]
        ]
        described.append(" and ".join(parts) or "(empty term)")
    return " or ".join(described)


def describe_topologies(terms: Sequence[Json]) -> str:
    """A class's allowedTopologies as ``topology.kubernetes.io/zone in [zone-a]``."""
    if not terms:
        return "any topology"
    return " or ".join(
        " and ".join(
            f"{e.get('key')} in [{', '.join(str(v) for v in e.get('values') or [])}]"
            for e in term.get("matchLabelExpressions") or []
        )
        for term in terms
    )


def node_topology(node: NodeFacts, keys: Sequence[str]) -> str:
    """``node-2 (topology.kubernetes.io/zone=zone-b)``: the node with the labels named."""
    shown = [f"{key}={node.labels[key]}" for key in keys if key in node.labels]
    return f"{node.name} ({', '.join(shown)})" if shown else node.name


def selector_keys(terms: Sequence[Json]) -> list[str]:
    """The label keys node selector terms or topology terms use, in order."""
    keys: list[str] = []
    for term in terms:
        for req in [
            *(term.get("matchExpressions") or []),
            *(term.get("matchLabelExpressions") or []),
        ]:
            key = str(req.get("key", ""))
            if key and key not in keys:
                keys.append(key)
    return keys


__all__ = [
    "NodeFacts",
    "describe_selector",
    "describe_topologies",
    "node_selector_matches",
    "node_topology",
    "reachable",
    "selector_keys",
    "topology_matches",
    "volume_terms",
]
