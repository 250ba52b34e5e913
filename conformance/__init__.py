"""Conformance harness for stateful storage on Kubernetes."""

from conformance.inventory import Inventory, InventoryError, Storage, load

__all__ = ["Inventory", "InventoryError", "Storage", "load"]
__version__ = "0.1.0"
