"""The document's invariants under random edits (hypothesis), events, and exact undo support."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph import EditError, Graph, ParamError, PortRef, dumps, loads
from graph.catalogue import REGISTRY
from graph.document import MAX_TITLE, GraphEventKind, check_title

TYPES = sorted(REGISTRY)


def check_invariants(g: Graph) -> None:
    order = g.topological_order()  # raises on a cycle
    assert sorted(order) == sorted(g.nodes)
    seen = set()
    for e in g.edges:
        assert e not in seen
        seen.add(e)
        src, dst = g.nodes[e.source.node], g.nodes[e.target.node]
        out = src.node_type.output_port(e.source.port)
        inp = dst.node_type.input_port(e.target.port)
        assert out is not None and inp is not None and out.kind == inp.kind
        if not inp.many:
            assert len(g.edges_into(dst.id, inp.name)) == 1


@st.composite
def edit_scripts(draw):
    return draw(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 10_000), st.integers(0, 10_000),
                                   st.integers(0, 10_000)), min_size=1, max_size=40))


def run_script(g: Graph, script) -> None:
    for op, a, b, c in script:
        ids = list(g.nodes)
        if op in (0, 1) or not ids:
            g.add_node(TYPES[a % len(TYPES)], position=(b % 900, c % 700))
        elif op == 2:
            src = g.nodes[ids[a % len(ids)]]
            dst = g.nodes[ids[b % len(ids)]]
            outs, ins = src.node_type.outputs, dst.node_type.inputs
            if outs and ins:
                s = PortRef(src.id, outs[c % len(outs)].name)
                d = PortRef(dst.id, ins[(c // 7) % len(ins)].name)
                problem = g.connect_problem(s, d)
                if problem is None:
                    g.connect(s, d)
                else:
                    with pytest.raises(EditError):
                        g.connect(s, d)
        elif op == 3:
            g.remove_node(ids[a % len(ids)])
        elif op == 4 and g.edges:
            g.disconnect(g.edges[a % len(g.edges)])
        elif op == 5:
            node = g.nodes[ids[a % len(ids)]]
            params = node.node_type.params
            if params:
                p = params[b % len(params)]
                if p.kind == "bool":
                    value = bool(c % 2)
                elif p.kind == "choice":
                    value = p.choices[c % len(p.choices)]
                else:
                    value = p.default
                g.set_param(node.id, p.name, value)
            g.move_node(node.id, (float(b % 1000), float(c % 1000)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edit_scripts())
def test_random_edits_keep_invariants_and_round_trip(script):
    g = Graph()
    run_script(g, script)
    check_invariants(g)
    text = dumps(g)
    g2 = loads(text)
    check_invariants(g2)
    assert dumps(g2) == text
    assert list(g2.nodes) == list(g.nodes) and g2.edges == g.edges


@settings(max_examples=100, deadline=None)
@given(edit_scripts(), st.data())
def test_remove_and_restore_is_exact(script, data):
    """What undo does: remove a node, then put it and its edges back at their indices."""
    g = Graph()
    run_script(g, script)
    if not g.nodes:
        return
    before = dumps(g)
    nid = data.draw(st.sampled_from(list(g.nodes)))
    node, index, edges = g.remove_node(nid)
    assert nid not in g.nodes and not g.edges_of(nid)
    g.restore_node(node, index)
    for i, e in edges:
        g.connect(e.source, e.target, index=i)
    assert dumps(g) == before


def test_events_are_emitted_after_each_change():
    g = Graph()
    events = []
    unsubscribe = g.subscribe(events.append)
    a = g.add_node("Linear")
    b = g.add_node("ReLU")
    g.connect(PortRef(a.id, "output"), PortRef(b.id, "input"))
    g.set_param(a.id, "out_features", 3)
    g.set_param(a.id, "out_features", 3)  # no change, no event
    g.move_node(a.id, (5, 5))
    g.set_title(a.id, "hidden")
    g.set_setting("epochs", 3)
    g.remove_node(a.id)
    kinds = [e.kind for e in events]
    assert all(isinstance(k, GraphEventKind) for k in kinds)
    assert kinds == ["node_added", "node_added", "edge_added", "param_changed", "node_moved", "title_changed",
                     "setting_changed", "edge_removed", "node_removed"]
    assert events[3].old == 8 and events[3].new == 3
    unsubscribe()
    g.add_node("ReLU")
    assert len(events) == 9


def test_parameter_and_title_checks_answer_without_changing_anything():
    g = Graph()
    a = g.add_node("Linear")
    events = []
    g.subscribe(events.append)
    assert g.check_param(a.id, "out_features", 3) == 3
    with pytest.raises(ParamError, match="out_features") as refused:
        g.check_param(a.id, "out_features", 0)
    assert refused.value.node_id == a.id
    with pytest.raises(ParamError, match="not a parameter of Linear"):
        g.check_param(a.id, "nope", 1)
    with pytest.raises(EditError):
        g.check_param("zz", "out_features", 3)
    assert check_title("x" * MAX_TITLE) == "x" * MAX_TITLE
    with pytest.raises(EditError, match=f"at most {MAX_TITLE} characters"):
        check_title("x" * (MAX_TITLE + 1))
    with pytest.raises(EditError, match="must be text"):
        check_title(3)
    assert a.params["out_features"] != 0 and not events


def test_connect_refusals_say_why():
    g = Graph()
    a, b, c = g.add_node("Linear"), g.add_node("Linear"), g.add_node("Add")
    g.connect(PortRef(a.id, "output"), PortRef(b.id, "input"))
    cases = {
        (PortRef(b.id, "output"), PortRef(a.id, "input")): "cycle",
        (PortRef(a.id, "output"), PortRef(a.id, "input")): "itself",
        (PortRef(a.id, "output"), PortRef(b.id, "input")): "already connected",
        (PortRef(a.id, "nope"), PortRef(c.id, "inputs")): "no output port 'nope'",
        (PortRef(a.id, "output"), PortRef("zz", "input")): "no node",
    }
    for (s, d), reason in cases.items():
        with pytest.raises(EditError, match=reason):
            g.connect(s, d)
    loss, opt = g.add_node("MSELoss"), g.add_node("SGD")
    with pytest.raises(EditError, match="cannot connect a tensor output to a loss input"):
        g.connect(PortRef(a.id, "output"), PortRef(opt.id, "loss"))
    # A port that accepts many takes several edges, in order.
    g.connect(PortRef(a.id, "output"), PortRef(c.id, "inputs"))
    g.connect(PortRef(b.id, "output"), PortRef(c.id, "inputs"))
    assert [e.source.node for e in g.edges_into(c.id, "inputs")] == [a.id, b.id]
    assert loss.id in g.nodes


def test_ids_are_checked_and_new_ids_follow_the_largest():
    g = Graph()
    g.add_node("ReLU", node_id="n7")
    assert g.add_node("ReLU").id == "n8"
    for bad in ("", "1abc", "a b", "x" * 65, "a\nb", "é"):
        with pytest.raises(EditError):
            g.add_node("ReLU", node_id=bad)
    with pytest.raises(EditError, match="already exists"):
        g.add_node("ReLU", node_id="n7")
    with pytest.raises(EditError):
        g.move_node("n7", (float("nan"), 0))
