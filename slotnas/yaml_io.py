"""Reading YAML from files and --set values safely: safe_load semantics plus limits on size, nesting and
alias expansion, and one-line errors for binary, non-UTF-8 or malformed input."""
from __future__ import annotations

from typing import Any, Dict, Union

import yaml

from .errors import SlotnasError

MAX_BYTES = 1 << 20  # a real config is a few KiB
MAX_DEPTH = 48  # deeper than any real config (the deepest shipped one nests 7 levels)
MAX_NODES = 100_000  # scalars, lists and mappings after aliases are expanded


class _LimitedLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses nesting deeper than MAX_DEPTH while composing (before recursion)."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: D102 (PyYAML's hook)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise _Refused(f"nesting deeper than {MAX_DEPTH} levels (line {mark.line + 1})")
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Refused(Exception):
    """A limit the document broke (turned into a SlotnasError naming the source)."""


def _expanded_size(node: yaml.Node, memo: Dict[int, int]) -> int:
    """Nodes of the document with every alias expanded (each shared node counted once per use)."""
    key = id(node)
    if key not in memo:
        memo[key] = 1  # a recursive alias counts once instead of looping
        if isinstance(node, yaml.SequenceNode):
            memo[key] += sum(_expanded_size(child, memo) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            memo[key] += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
        if memo[key] > MAX_NODES:
            raise _Refused(f"expands to more than {MAX_NODES} values (aliases)")
    return memo[key]


def parse_yaml(data: Union[str, bytes], where: str) -> Any:
    """The document in ``data`` (safe_load semantics); any problem is one SlotnasError naming ``where``."""
    if isinstance(data, bytes):
        if b"\0" in data:
            raise SlotnasError(f"{where}: binary content, not a YAML text file")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SlotnasError(f"{where}: not UTF-8 text (invalid byte at offset {exc.start})") from None
    if len(data) > MAX_BYTES:
        raise SlotnasError(f"{where}: {len(data)} characters; a config holds at most {MAX_BYTES}")
    loader = _LimitedLoader(data)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {})
        return loader.construct_document(node)
    except _Refused as exc:
        raise SlotnasError(f"{where}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if "could not determine a constructor for the tag" in str(exc):
            tag = str(exc).split("for the tag", 1)[1].split()[0].strip("'").replace("tag:yaml.org,2002:", "!!")
            problem = f"tag {tag} not allowed; plain YAML only (safe_load)"
        raise SlotnasError(f"{where}{line}: invalid YAML ({problem})") from None
    finally:
        loader.dispose()


def read_yaml_file(path: str) -> Any:
    """The YAML document in file ``path``, read with :func:`parse_yaml`'s limits."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SlotnasError(f"config: cannot read {path!r} ({exc.strerror or type(exc).__name__})") from None
    if len(data) > MAX_BYTES:
        raise SlotnasError(f"config: {path} is larger than {MAX_BYTES} bytes; a config is a few KiB")
    return parse_yaml(data, f"config: {path}")
