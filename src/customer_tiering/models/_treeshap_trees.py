"""Read the trees of a LightGBM ``dump_model()`` into the lists the TreeSHAP tables are built from.

Not public: :mod:`customer_tiering.models.fast_treeshap` is the interface. Assumes what LightGBM
4's JSON dump writes: internal nodes carry ``split_index``, ``split_feature``, ``threshold``
(a number, or ``"a||b||c"`` for a categorical split: the categories that go left),
``decision_type`` (``<=`` or ``==``), ``default_left``, ``missing_type`` and
``internal_count``; leaves carry ``leaf_index``, ``leaf_value`` and ``leaf_count``; numbers are
written with 17 significant digits, so they read back as the very doubles LightGBM predicts with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_MISSING = {"None": 0, "Zero": 1, "NaN": 2}


@dataclass
class Trees:
    """All trees, nodes and leaves numbered consecutively across trees."""

    bias: float = 0.0
    node_feature: list[int] = field(default_factory=list)
    node_threshold: list[float] = field(default_factory=list)
    node_kind: list[int] = field(default_factory=list)  # 0 numerical, 1 categorical
    node_missing: list[int] = field(default_factory=list)
    node_default_left: list[int] = field(default_factory=list)
    node_cat_start: list[int] = field(default_factory=list)
    node_cat_words: list[int] = field(default_factory=list)
    cat_bits: list[int] = field(default_factory=list)
    node_start: list[int] = field(default_factory=lambda: [0])
    leaf_start: list[int] = field(default_factory=lambda: [0])
    leaf_value: list[float] = field(default_factory=list)
    leaf_path_node: list[list[int]] = field(default_factory=list)  # local to the leaf's tree
    leaf_path_left: list[list[int]] = field(default_factory=list)
    leaf_path_bit: list[list[int]] = field(default_factory=list)
    leaf_features: list[list[int]] = field(default_factory=list)  # distinct, first seen first
    leaf_z: list[list[float]] = field(default_factory=list)  # cover share per distinct feature


def read_trees(tree_info: list[dict[str, Any]]) -> Trees | str:
    """Every tree of ``dump_model()["tree_info"]``, or why the tables cannot hold one.

    Parameters
    ----------
    tree_info : the dump's trees.

    Returns
    -------
    Trees, or the reason (text) naming the tree
    """
    trees = Trees()
    for tree in tree_info:
        problem = _read_tree(tree, trees)
        if problem is not None:
            return f"tree {tree.get('tree_index')}: {problem}"
    return trees


def _read_tree(tree: dict[str, Any], out: Trees) -> str | None:
    root = tree["tree_structure"]
    if tree.get("is_linear"):
        return "linear tree"
    if "split_index" not in root:  # a single leaf: its value is the bias, no feature moves it
        out.bias += float(root["leaf_value"])
        out.node_start.append(out.node_start[-1])
        out.leaf_start.append(out.leaf_start[-1])
        return None
    n_leaves = int(tree["num_leaves"])
    nodes: list[dict[str, Any] | None] = [None] * (n_leaves - 1)
    leaves: list[tuple[dict[str, Any], list[tuple[int, int, int, float]]] | None] = (
        [None] * n_leaves)
    # depth-first; a path is a list of (node, goes left, feature, cover share of the child)
    stack: list[tuple[dict[str, Any], list[tuple[int, int, int, float]]]] = [(root, [])]
    while stack:
        node, path = stack.pop()
        if "leaf_index" in node:
            if "leaf_coeff" in node:
                return "linear tree"
            leaves[int(node["leaf_index"])] = (node, path)
            continue
        i = int(node["split_index"])
        nodes[i] = node
        cover = float(node["internal_count"])
        if cover <= 0:  # LightGBM's own shares would be 0/0
            return f"node {i} has no training rows (cover 0)"
        for child, left in ((node["left_child"], 1), (node["right_child"], 0)):
            child_cover = float(child["leaf_count"] if "leaf_index" in child
                                else child["internal_count"])
            # LightGBM's TreeSHAP divides the child's count by the node's in double
            stack.append((child, [*path, (i, left, int(node["split_feature"]),
                                          child_cover / cover)]))
    if any(n is None for n in nodes) or any(leaf is None for leaf in leaves):
        return "node or leaf numbering has gaps"
    for split in nodes:
        assert split is not None
        _add_node(split, out)
    total = float(root["internal_count"])
    expected = 0.0
    for entry in leaves:
        assert entry is not None
        leaf, path = entry
        value = float(leaf["leaf_value"])
        expected += (float(leaf["leaf_count"]) / total) * value  # Tree::ExpectedValue's order
        _add_leaf(value, path, out)
    out.bias += expected
    out.node_start.append(out.node_start[-1] + len(nodes))
    out.leaf_start.append(out.leaf_start[-1] + len(leaves))
    return None


def _add_node(node: dict[str, Any], out: Trees) -> None:
    out.node_feature.append(int(node["split_feature"]))
    out.node_default_left.append(1 if node["default_left"] else 0)
    out.node_missing.append(_MISSING[str(node["missing_type"])])
    if node["decision_type"] == "==":
        categories = [int(c) for c in str(node["threshold"]).split("||") if c != ""]
        words = (max(categories) // 32 + 1) if categories else 1
        bits = [0] * words
        for c in categories:
            bits[c // 32] |= 1 << (c % 32)
        out.node_kind.append(1)
        out.node_threshold.append(0.0)
        out.node_cat_start.append(len(out.cat_bits))
        out.node_cat_words.append(words)
        out.cat_bits.extend(bits)
    else:
        out.node_kind.append(0)
        out.node_threshold.append(float(node["threshold"]))
        out.node_cat_start.append(0)
        out.node_cat_words.append(0)


def _add_leaf(value: float, path: list[tuple[int, int, int, float]], out: Trees) -> None:
    features: list[int] = []
    z: list[float] = []
    bits: list[int] = []
    for _, _, feature, share in path:
        if feature in features:  # split on again: TreeSHAP merges it into one path element
            j = features.index(feature)
            z[j] = share * z[j]  # hot_zero_fraction * incoming_zero_fraction
        else:
            j = len(features)
            features.append(feature)
            z.append(share)
        bits.append(j)
    out.leaf_value.append(value)
    out.leaf_path_node.append([n for n, _, _, _ in path])
    out.leaf_path_left.append([left for _, left, _, _ in path])
    out.leaf_path_bit.append(bits)
    out.leaf_features.append(features)
    out.leaf_z.append(z)
