"""Reading YAML from someone else, safely and within stated bounds.

``yaml.safe_load`` constructs no Python objects beyond plain data, but alone it still
lets a small file exhaust memory or the stack. :func:`read_yaml` therefore parses in
four steps, each bounded before the next starts:

1. the file is at most :data:`MAX_FILE_BYTES`, UTF-8, without control characters
   (a NUL byte is reported with its line and column);
2. the event stream (no recursion) is at most :data:`MAX_DEPTH` collections deep;
3. the node graph is composed, and its size *with every alias expanded* is at most
   :data:`MAX_NODES` (a "billion laughs" alias bomb is refused here, before anything is
   copied); a mapping with the same key twice is refused, naming key and line;
4. the data are constructed (aliases stay shared, so this is linear in the file).

Every problem is one :class:`~linksim.errors.UserError` naming ``file:line``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

from .errors import UserError

#: Largest scenario file read (bytes). The largest shipped scenario is about 2 KiB.
MAX_FILE_BYTES = 1 << 20
#: Deepest nesting of mappings and lists.
MAX_DEPTH = 64
#: Most YAML nodes once every alias is expanded (the shipped scenarios have < 500).
MAX_NODES = 100_000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _line_col(text: str, index: int) -> Tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def read_text(path: Path, *, what: str = "scenario file", max_bytes: int = MAX_FILE_BYTES,
              controls_allowed: bool = False) -> str:
    """The text of ``path``: a regular file of at most ``max_bytes``, UTF-8, no control characters.

    :param controls_allowed: Skip the control-character check (JSON escapes its own).
    """
    path = Path(path)
    try:
        if path.is_dir():
            raise UserError(f"{path}: is a folder, not a {what}")
        if path.exists() and not path.is_file():
            raise UserError(f"{path}: not a regular file (a device, pipe or socket), not a {what}")
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise UserError(f"{path}: no such {what}") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise UserError(f"{path}: larger than {max_bytes // 1024} KiB, the most linksim reads as a {what}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise UserError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    match = None if controls_allowed else _CONTROL.search(text)
    if match:
        line, col = _line_col(text, match.start())
        raise UserError(f"{path}:{line}:{col}: control character 0x{ord(match.group()):02x} "
                        f"(a {what} is plain text)")
    return text


def _check_depth(text: str, where: str) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1
                raise UserError(f"{where}:{line}: nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _check_graph(root: yaml.Node, where: str) -> None:
    """Duplicate keys, and the expanded size of the node graph (aliases counted each time).

    A node reached through several aliases is checked once; its expanded size counts at
    every place it is used. A node that contains itself (a recursive alias) is refused.
    """
    sizes: Dict[int, int] = {}
    stack: List[Tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes = set()
    while stack:  # post-order without recursion: children are sized before their parent
        node, children_done = stack.pop()
        children = _children(node)
        if children_done:
            open_nodes.discard(id(node))
            size = 1 + sum(sizes[id(child)] for child in children)
            if size > MAX_NODES:
                raise UserError(f"{where}:{node.start_mark.line + 1}: more than {MAX_NODES} values once its "
                                f"aliases are expanded (an alias bomb?)")
            sizes[id(node)] = size
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_nodes:
            raise UserError(f"{where}:{node.start_mark.line + 1}: a value that contains itself (a recursive alias)")
        open_nodes.add(id(node))
        _check_duplicate_keys(node, where)
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


def _children(node: yaml.Node) -> List[yaml.Node]:
    """The nodes directly inside ``node`` (keys and values of a mapping)."""
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_duplicate_keys(node: yaml.Node, where: str) -> None:
    if not isinstance(node, yaml.MappingNode):
        return
    keys: Dict[Any, int] = {}
    for key, _ in node.value:
        if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
            if key.value in keys:
                raise UserError(f"{where}:{key.start_mark.line + 1}: duplicate key {key.value!r} "
                                f"(first given on line {keys[key.value]})")
            keys[key.value] = key.start_mark.line + 1


def parse_yaml(text: str, where: str) -> Tuple[Any, Optional[yaml.Node]]:
    """Parse ``text`` (already read by :func:`read_text`) into data and its node tree.

    :param where: The file name used in messages.
    """
    try:
        _check_depth(text, where)
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, None
            _check_graph(node, where)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        raise UserError(f"{at}: YAML syntax error: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{where}: YAML error: {' '.join(str(exc).split())}") from None
    return data, node


def read_yaml(path: Path | str, *, what: str = "scenario file") -> Tuple[Any, Optional[yaml.Node]]:
    """Read and parse a YAML file within the bounds above; problems are one located :class:`UserError`."""
    path = Path(path)
    return parse_yaml(read_text(path, what=what), str(path))
