"""Properties of the scan's name resolution: it always ends, and a module that can reach a name is seen there."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.codescan import scan_source

NAMES = ("a", "b", "c", "d", "e")
SOURCES = ("os", "np", "np.float32", "np.float64", "json", "None", "1")

assignment = st.tuples(st.sampled_from(NAMES), st.sampled_from(NAMES + SOURCES))
wrapper = st.sampled_from(("plain", "loop", "branch", "function"))


def render(steps: list[tuple[str, str]], wrappers: list[str]) -> str:
    lines = ["import json", "import os", "import numpy as np", *(f"{n} = None" for n in NAMES)]
    for (target, value), how in zip(steps, wrappers, strict=False):
        if how == "loop":
            lines += ["for _ in range(3):", f"    {target} = {value}"]
        elif how == "branch":
            lines += ["if json:", f"    {target} = {value}", "else:", f"    {target} = None"]
        elif how == "function":
            lines += ["def f():", f"    global {target}", f"    {target} = {value}", "f()"]
        else:
            lines.append(f"{target} = {value}")
    return "\n".join(lines)


def may_hold_os(steps: list[tuple[str, str]], name: str) -> bool:
    """Graph reachability: os flows to ``name`` through any chain of the assignments, in any order."""
    holders = {"os"}
    changed = True
    while changed:
        changed = False
        for target, value in steps:
            if value in holders and target not in holders:
                holders.add(target)
                changed = True
    return name in holders


@settings(max_examples=150, deadline=None)
@given(
    st.lists(assignment, min_size=1, max_size=12), st.lists(wrapper, min_size=12, max_size=12), st.sampled_from(NAMES)
)
def test_a_name_os_can_reach_is_judged_as_os(steps: list[tuple[str, str]], wrappers: list[str], name: str) -> None:
    source = render(steps, wrappers) + f"\n{name}.system('id')\n"
    findings = scan_source(source, "custom/prop.py")  # returns: the fixpoint ends on every program
    last = source.count("\n")
    flagged = any(f.line == last and f.severity == "deny" for f in findings)
    if may_hold_os(steps, name):
        assert flagged, source
