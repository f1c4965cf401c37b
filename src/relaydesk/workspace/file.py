"""Reading a workspace file: YAML → validated ``WorkspaceSpec``, errors with file and line."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from relaydesk.workspace.schemas import WorkspaceSpec

Path_ = tuple[str | int, ...]


@dataclass
class WorkspaceProblem:
    line: int | None
    where: str
    message: str


class WorkspaceFileError(Exception):
    """A workspace file that cannot be applied; nothing was changed."""

    def __init__(self, path: str, problems: list[WorkspaceProblem]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        out = []
        for problem in self.problems:
            location = f"{self.path}:{problem.line}" if problem.line else self.path
            where = f" {problem.where}:" if problem.where else ""
            out.append(f"{location}:{where} {problem.message}")
        return out


@dataclass
class LoadedWorkspace:
    path: str
    spec: WorkspaceSpec
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, *location: str | int) -> int | None:
        """The line of the nearest enclosing node of ``location``."""
        loc: Path_ = tuple(location)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get(())

    def error(self, location: Path_, message: str) -> WorkspaceFileError:
        return WorkspaceFileError(
            self.path, [WorkspaceProblem(self.line_of(*location), _dotted(location), message)]
        )


def _dotted(location: Path_) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _to_python(node: yaml.Node, path: Path_, lines: dict[Path_, int], source: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if not isinstance(key_node, yaml.ScalarNode):
                raise WorkspaceFileError(
                    source,
                    [WorkspaceProblem(key_node.start_mark.line + 1, "", "keys must be text")],
                )
            if key in result:
                raise WorkspaceFileError(
                    source,
                    [
                        WorkspaceProblem(
                            key_node.start_mark.line + 1, _dotted((*path, key)), "duplicate key"
                        )
                    ],
                )
            result[key] = _to_python(value_node, (*path, key), lines, source)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _to_python(item, (*path, index), lines, source) for index, item in enumerate(node.value)
        ]
    return yaml.SafeLoader("").construct_object(node, deep=True)


def parse_workspace(text: str, source: str = "<workspace>") -> LoadedWorkspace:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise WorkspaceFileError(
            source, [WorkspaceProblem(line, "", f"not valid YAML: {exc.problem or exc}")]
        ) from None
    lines: dict[Path_, int] = {}
    data = {} if root is None else _to_python(root, (), lines, source)
    if not isinstance(data, dict):
        raise WorkspaceFileError(
            source, [WorkspaceProblem(1, "", "a workspace file is a mapping of sections")]
        )
    try:
        spec = WorkspaceSpec.model_validate(data)
    except ValidationError as exc:
        loaded = LoadedWorkspace(source, WorkspaceSpec(), lines)
        problems = []
        for error in exc.errors(include_url=False):
            location = tuple(part for part in error["loc"] if not str(part).startswith("function-"))
            message = str(error["msg"]).removeprefix("Value error, ")
            head, sep, rest = message.partition(": ")
            named = tuple(int(p) if p.isdigit() else p for p in re.split(r"[.\[\]]+", head) if p)
            if sep and " " not in head and (*location, *named) in lines:
                location, message = (*location, *named), rest
            problems.append(WorkspaceProblem(loaded.line_of(*location), _dotted(location), message))
        raise WorkspaceFileError(source, problems) from None
    return LoadedWorkspace(source, spec, lines)


def load_workspace_file(path: str | Path) -> LoadedWorkspace:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkspaceFileError(str(path), [WorkspaceProblem(None, "", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkspaceFileError(str(path), [WorkspaceProblem(None, "", str(exc))]) from None
    return parse_workspace(text, str(path))
