"""Marks for tests of other files that wait on work in progress (remove each when it lands)."""

from __future__ import annotations

import pytest

# NOTE: [pending export] runtime/export does not read NodeType.call yet, so the exported script
# calls nn.MultiheadAttention with one argument. Not strict: once the export wires the call
# convention these pass (XPASS) and the entry goes.
PENDING = {
    "tests/runtime/test_export.py::test_same_run_same_numbers[attention_sequence]":
        "export of tuple-output call convention pending",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for nodeid, reason in PENDING.items():
            if item.nodeid.endswith(nodeid):
                item.add_marker(pytest.mark.xfail(reason=reason, strict=False))
