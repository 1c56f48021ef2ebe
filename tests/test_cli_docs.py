"""The command line documents itself, and README.md only shows commands that exist."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from desktop_app.cli import cli

README = Path(__file__).resolve().parents[1] / "README.md"


def _walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _walk(sub, (*path, name))


def _resolve(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group), f"{' '.join(path)}: {name} is not a group"
        sub = command.commands.get(name)
        assert sub is not None, f"README shows 'modeldesk {' '.join(path)}', which does not exist"
        command = sub
    return command


ALL_COMMANDS = list(_walk(cli))


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "modeldesk")
def test_every_command_and_group_has_help(path: tuple[str, ...]) -> None:
    command = _resolve(path)
    assert (command.help or "").strip(), f"modeldesk {' '.join(path)} has no help text"
    assert command.get_short_help_str().strip()
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert (param.help or "").strip(), f"{' '.join(path)} {param.opts} has no help"


def test_the_tree_has_the_documented_commands() -> None:
    names = {" ".join(path) for path in ALL_COMMANDS}
    expected = {
        "experiments list",
        "experiments create",
        "experiments delete",
        "experiments restore",
        "runs list",
        "runs show",
        "runs delete",
        "runs restore",
        "runs purge",
        "registry info",
        "registry check",
        "registry backup",
    }
    assert expected <= names


def _cli_section(text: str) -> str | None:
    """The README section whose heading mentions the CLI or the command line."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^(#+)\s+(.*)", line)
        if match and re.search(r"\bCLI\b|command[- ]line", match.group(2), re.IGNORECASE):
            level = len(match.group(1))
            body = []
            for following in lines[index + 1 :]:
                heading = re.match(r"^(#+)\s", following)
                if heading and len(heading.group(1)) <= level:
                    break
                body.append(following)
            return "\n".join(body)
    return None


def _command_paths(words: list[str], command: click.Command = cli) -> list[tuple[str, ...]]:
    """Sub-command paths in ``words`` (after ``modeldesk``); ``a|b`` shows alternatives.

    A path stops at its first unknown name, which is kept so that resolving it fails.
    """
    for index, word in enumerate(words):
        if word.startswith("-"):
            continue
        if index > 0 and words[index - 1] == "--registry":
            continue
        if not isinstance(command, click.Group):
            return [()]
        paths: list[tuple[str, ...]] = []
        for name in word.split("|"):
            sub = command.commands.get(name)
            if sub is None:
                paths.append((name,))
            else:
                paths.extend((name, *rest) for rest in _command_paths(words[index + 1 :], sub))
        return paths
    return [()]


def _shown_commands(section: str) -> list[tuple[str, ...]]:
    """Command paths of every ``modeldesk ...`` invocation shown in code in the section."""
    code = re.findall(r"```.*?\n(.*?)```", section, re.DOTALL)
    code += re.findall(r"`([^`\n]*modeldesk[^`\n]*)`", section)
    shown = []
    for block in code:
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            if not line.startswith("modeldesk"):
                continue
            try:
                words = shlex.split(line, comments=True)
            except ValueError:
                words = line.split()
            if words and words[0] == "modeldesk":
                shown.extend(_command_paths(words[1:]))
    return shown


def test_readme_cli_section_shows_only_real_commands() -> None:
    if not README.exists():
        pytest.skip("README.md does not exist yet")
    section = _cli_section(README.read_text(encoding="utf-8"))
    if section is None:
        pytest.skip("README.md has no CLI section yet")
    shown = [path for path in _shown_commands(section) if path]
    if not shown:
        pytest.skip("README.md's CLI section shows no modeldesk commands")
    for path in shown:
        _resolve(path)


def test_the_readme_check_catches_a_missing_command() -> None:
    section = (
        "```sh\nmodeldesk runs list|frobnicate --json\nmodeldesk --registry X registry info\n```"
    )
    shown = _shown_commands(section)
    assert shown == [("runs", "list"), ("runs", "frobnicate"), ("registry", "info")]
    with pytest.raises(AssertionError, match="frobnicate"):
        _resolve(shown[1])
