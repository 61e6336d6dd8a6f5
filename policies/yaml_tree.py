"""YAML to plain Python, remembering the line of every key and list item.

`yaml.safe_load` forgets where values came from and silently keeps the last of two
equal keys. We compose the node tree instead (same safe loader), convert it ourselves
and record `path → line`, so a validation error at `policies[3].allow.jurisdictions[0]`
can name line 12, and a duplicate key is reported rather than half-applied.

Scalars are read as `SafeLoader` reads them, with two deliberate differences:
- Only `true`/`false` (any case) are booleans, as in YAML 1.2. YAML 1.1 also reads
  `yes`, `no`, `on`, `off`, `y`, `n` as booleans, which turns Norway's code `NO` into
  `false` in `countries: [NO]`; those words stay text here (pydantic still reads
  `enabled: yes` as true, because it accepts that text for a boolean field).
- Numbers with a decimal point become `Decimal` from their exact text, so money such as
  `99.10` is never rounded through a binary float.
Merge keys (`<<: *defaults`) are supported; keys written in the mapping win.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

Path = tuple[str | int, ...]

_BOOL_TAG = "tag:yaml.org,2002:bool"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_PLAIN = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
_MAX_DEPTH = 64

_SYNTAX_HINTS = (
    ("'\\t'", "indent with spaces, not tabs"),
    (
        "mapping values are not allowed",
        "quote a value that contains ': ', or fix this "
        "key's indentation so it lines up with its siblings",
    ),
    (
        "could not find expected ':'",
        "every key needs a ':' after it; look for an unclosed "
        "quote or bracket on this line or the one above",
    ),
    (
        "expected <block end>",
        "fix the indentation: items of one list or mapping must start in the same column",
    ),
    ("undefined alias", "define the anchor (&name) before using it (*name)"),
    ("single document", "keep one document per file: remove the second '---'"),
    ("end of stream", "close the quote or bracket opened here"),
    ("expected ',' or ']'", "close the list with ']' (or add the missing ',')"),
    ("expected ',' or '}'", "close the mapping with '}' (or add the missing ',')"),
    ("constructor for the tag", "remove the '!' tag: policy files use plain YAML values"),
)
_DEFAULT_HINT = (
    "check the indentation (spaces, children indented under their key) and quote values "
    "that contain ': ' or ' #' or start with '[', '{', '*', '&' or '!'"
)


class YamlSyntaxError(Exception):
    """The text is not YAML we can read; line and column are 1-based."""

    def __init__(self, problem: str, line: int, column: int, fix: str) -> None:
        super().__init__(problem)
        self.problem, self.line, self.column, self.fix = problem, line, column, fix


@dataclass(frozen=True)
class Duplicate:
    """A key written twice in one mapping."""

    path: Path
    line: int
    first_line: int


@dataclass
class Tree:
    """The converted document plus where each part of it was written."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    duplicates: list[Duplicate] = field(default_factory=list)

    def line_of(self, path: Path) -> int | None:
        """The line of the longest prefix of `path` that was written in the file."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None


def compose(text: str) -> Tree | None:
    """Parse one YAML document; None when the text holds no document at all."""
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)
        root = loader.get_single_node()
        if root is None:
            return None
        tree = Tree(data=None, lines={(): _line(root)})
        tree.data = _Builder(loader, tree).build(root, (), 0)
        return tree
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise YamlSyntaxError(
            f"unreadable character U+{int(exc.character):04X}",
            line,
            column,
            "remove the control character (save the file as plain UTF-8 text)",
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _syntax_error(exc: yaml.MarkedYAMLError) -> YamlSyntaxError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "not valid YAML"
    text = f"{exc.context or ''} {problem}"
    fix = next((hint for needle, hint in _SYNTAX_HINTS if needle in text), _DEFAULT_HINT)
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return YamlSyntaxError(problem, line, column, fix)


class _Builder:
    """Converts nodes to Python values, filling the tree's line map and duplicates."""

    def __init__(self, loader: yaml.SafeLoader, tree: Tree) -> None:
        self.loader, self.tree = loader, tree

    def build(self, node: yaml.Node, path: Path, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise YamlSyntaxError(
                f"nesting deeper than {_MAX_DEPTH} levels",
                _line(node),
                1,
                "an alias probably refers to its own anchor: remove the loop",
            )
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _PLAIN:
            raise YamlSyntaxError(
                f"could not determine a constructor for the tag '{node.tag}'",
                _line(node),
                node.start_mark.column + 1,
                "remove the '!' tag: policy files use plain YAML values",
            )
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                self.tree.lines[(*path, i)] = _line(item)
                items.append(self.build(item, (*path, i), depth + 1))
            return items
        return self._scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:  # merged keys first: written keys win
            if key_node.tag == _MERGE_TAG:
                sources = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for source in reversed(sources):  # the first listed source wins
                    if not isinstance(source, yaml.MappingNode):
                        raise YamlSyntaxError(
                            "'<<' merges only mappings",
                            _line(source),
                            1,
                            "write `<<: *anchor` where the anchor names a mapping",
                        )
                    out.update(self._mapping(source, path, depth + 1))
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlSyntaxError(
                    "a key must be a plain word",
                    _line(key_node),
                    key_node.start_mark.column + 1,
                    "write `key: value`; lists and mappings cannot be keys",
                )
            key, line = str(key_node.value), _line(key_node)
            if key in first:
                self.tree.duplicates.append(Duplicate((*path, key), line, first[key]))
                continue
            first[key] = line
            self.tree.lines[(*path, key)] = line
            out[key] = self.build(value_node, (*path, key), depth + 1)
        return out

    def _scalar(self, node: yaml.Node) -> Any:
        text = str(node.value)
        if node.tag == _BOOL_TAG and text.lower() not in ("true", "false"):
            return text
        if node.tag == _FLOAT_TAG:
            try:
                number = Decimal(text.replace("_", ""))
                if number.is_finite():
                    return number
            except InvalidOperation:
                pass  # .inf, .nan, 1:30.5 (sexagesimal): let the safe loader read them
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise _syntax_error(exc) from None
        except ValueError:  # e.g. the timestamp 2026-02-30: keep the text, pydantic says why
            return text
