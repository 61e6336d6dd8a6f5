"""Reading a policy file: YAML with line numbers → validated `PolicyFile`, or one clear error.

Every failure is a `PolicyFileError` (a `store.errors.PolicyError`, exit code 2) whose
message names file, line, policy and key, whose `fix` says what to write instead, and
whose `problems` lists everything found, so `policy validate --json` can show them all.
The message reports the first problem (in file order) in full and counts the others:
fixing from the top down is how people edit, and a wall of 30 errors caused by one
bad indentation helps nobody.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import ValidationError

from policies import diagnostics
from policies.diagnostics import Problem
from policies.models import PolicyFile
from policies.yaml_tree import YamlSyntaxError, compose
from store.errors import PolicyError


class PolicyFileError(PolicyError):
    """A policy file that cannot be used, with every problem found in it."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        first = problems[0]
        more = len(problems) - 1
        message = first.render(source)
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''} in this file)"
        where = f"{source}:{first.line}" if first.line else source
        super().__init__(message, where=where, fix=first.fix)
        self.source = source
        self.problems = tuple(problems)


def load_policies(path: str | Path) -> PolicyFile:
    """Read and validate a policy file; errors name the path as given."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise _file_error(
            source, "no such file", "check the path, or start from one of examples/policies/*.yaml"
        ) from None
    except IsADirectoryError:
        raise _file_error(source, "is a directory", "give the path of one .yaml file") from None
    except OSError as exc:
        raise _file_error(
            source, f"cannot be read ({exc.strerror})", "check its permissions"
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise PolicyFileError(
            source, [Problem(line, None, "", "is not UTF-8 text", "save the file as UTF-8")]
        ) from None
    return parse_policies(text, source)


def parse_policies(text: str, source_name: str = "<policies>") -> PolicyFile:
    """Validate policy YAML held in memory; `source_name` is what messages call it."""
    try:
        tree = compose(text)
    except YamlSyntaxError as exc:
        problem = Problem(
            exc.line, None, "", f"YAML syntax error at column {exc.column}: {exc.problem}", exc.fix
        )
        raise PolicyFileError(source_name, [problem]) from None
    if tree is None or tree.data is None:
        raise _file_error(
            source_name,
            "the file is empty",
            "start with `version: 1` and a `policies:` list; see examples/policies/",
        )
    if tree.duplicates:
        problems = [
            diagnostics.locate(
                tree,
                d.path,
                f"'{d.path[-1]}' is written twice (first on line {d.first_line})",
                "YAML would silently keep only the last one: delete one of them",
                line=d.line,
            )
            for d in tree.duplicates
        ]
        raise PolicyFileError(source_name, problems)
    try:
        return PolicyFile.model_validate(tree.data)
    except ValidationError as exc:
        raise PolicyFileError(source_name, diagnostics.from_validation_error(exc, tree)) from None


def policies_sha256(path: str | Path) -> str:
    """Hex SHA-256 of the file's bytes, recorded by plans to say which policies they used."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _file_error(source: str, message: str, fix: str) -> PolicyFileError:
    return PolicyFileError(source, [Problem(None, None, "", message, fix)])
