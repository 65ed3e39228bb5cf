"""Generate the configuration reference from the structured configs themselves.

Walks the dataclasses `AZRConfig` and `EnvConfig` and the configs nested in them
(`PolicyConfig`, `ExecutorConfig`, ...) and writes one table per dataclass: the key as you would
type it, its type, its default (read from the dataclass, so never stale) and its description, taken
from where the code documents it:

- an attribute docstring (a string literal right after the field);
- a `#` comment on the field's line or on the lines just above it;
- an entry for the field in the class docstring, `- `name`: text` or `name: text` (continuation
  lines indented), also `a, b: text` for several fields and `prefix_*: text` for a family.

Used two ways:

- as an MkDocs hook (`hooks:` in mkdocs.yml): `<!-- config-reference -->` in a page is replaced
  by the reference when the site is built;
- as a script: `python docs/gen_config_reference.py` prints the same Markdown.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import re
import textwrap
import tokenize
from typing import Any

PLACEHOLDER = "<!-- config-reference -->"


def _roots() -> list[tuple[str, type, str]]:
    """(title, dataclass, how its keys are set) for each top-level config."""
    from azr_agents.config import AZRConfig
    from azr_env.config import EnvConfig

    return [
        ("AZRConfig: a training run", AZRConfig,
         "`azr train` keys: in a YAML preset (`azr_agents/configs/`) or as `key.sub=value` "
         "overrides on the command line; `azr_agents.config.load_config(preset, overrides)` in "
         "Python."),
        ("EnvConfig: the environment", EnvConfig,
         "Keyword arguments of `gymnasium.make(id, ...)` / `make_vec`, or `config=EnvConfig(...)`; "
         "nested configs as dicts (`rewards={\"mode\": \"reference\"}`). Under `azr train` the "
         "same keys are `selfplay.env.<key>` (`selfplay.env.rewards.mode=reference`)."),
    ]


ALSO = {
    "PolicyConfig": "The same names are the keyword arguments of "
                    "`azr_agents.policies.load_policy(model, backend, **options)`.",
    "ExecutorConfig": "The same names are the keyword arguments of "
                      "`azr_env.executor.Executor(...)`.",
}
"""Where a nested config is also used on its own."""


# -- reading the documentation out of the source ------------------------------------------------

def _docstring_entries(doc: str) -> dict[str, str]:
    """Field descriptions from a class docstring: `- `name`: text` or `name: text` entries."""
    entries: dict[str, str] = {}
    current: list[str] | None = None
    names: list[str] = []
    entry = re.compile(r"^(?:- )?((?:`?[A-Za-z_][\w*]*`?(?:, |,| and )?)+):\s*(.*)$")
    for raw in textwrap.dedent(doc).splitlines():
        line = raw.rstrip()
        match = entry.match(line)
        if match and not raw.startswith((" ", "\t")):
            if current is not None:
                for name in names:
                    entries[name] = " ".join(current).strip()
            names = [n.strip("` ") for n in re.split(r",| and ", match.group(1)) if n.strip("` ")]
            current = [match.group(2)]
        elif current is not None and raw.startswith((" ", "\t")) and line.strip():
            current.append(line.strip())
        elif current is not None:
            for name in names:
                entries[name] = " ".join(current).strip()
            current, names = None, []
    if current is not None:
        for name in names:
            entries[name] = " ".join(current).strip()
    return entries


def _comments(source: str) -> dict[int, str]:
    """Line number -> the `#` comment on that line (1-based, within `source`)."""
    found: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            found[tok.start[0]] = tok.string.lstrip("#").strip()
    return found


def field_docs(cls: type) -> dict[str, str]:
    """Every documented field of dataclass `cls`, by name."""
    source = textwrap.dedent(inspect.getsource(cls))
    tree = ast.parse(source).body[0]
    assert isinstance(tree, ast.ClassDef)
    comments = _comments(source)
    from_class_doc = _docstring_entries(inspect.getdoc(cls) or "")
    docs: dict[str, str] = {}
    body = tree.body
    for i, node in enumerate(body):
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
            continue
        name = node.target.id
        nxt = body[i + 1] if i + 1 < len(body) else None
        if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) \
                and isinstance(nxt.value.value, str):
            docs[name] = " ".join(inspect.cleandoc(nxt.value.value).split())
            continue
        above: list[str] = []
        line = node.lineno - 1
        while line in comments and source.splitlines()[line - 1].strip().startswith("#"):
            above.insert(0, comments[line])
            line -= 1
        inline = comments.get(node.lineno) if node.end_lineno == node.lineno else None
        text = " ".join([*above, *([inline] if inline else [])]).strip()
        if not text:
            text = from_class_doc.get(name, "")
        if not text:
            text = next((v for k, v in from_class_doc.items()
                         if k.endswith("*") and name.startswith(k[:-1])), "")
        docs[name] = " ".join(text.split())
    return docs


# -- rendering ----------------------------------------------------------------------------------

def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(value: Any) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return "`" + _cell(text).replace("`", "'") + "`"


def _table(cls: type, prefix: str, nested: list[tuple[type, str]]) -> list[str]:
    docs = field_docs(cls)
    roots = {root for _, root, _ in _roots()}
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for field in dataclasses.fields(cls):
        key = prefix + field.name
        value = _default(field)
        if dataclasses.is_dataclass(value) and type(value) in roots:
            # A root of its own (the env's config inside the run's): documented once, there.
            anchor = _anchor(next(t for t, r, _ in _roots() if r is type(value)))
            rows.append(f"| `{key}` | `{type(value).__name__}` | see its section | "
                        f"{_cell(docs.get(field.name, ''))} [{type(value).__name__}](#{anchor}) |")
            continue
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            anchor = type(value).__name__.lower()
            rows.append(f"| `{key}` | `{type(value).__name__}` | see below | "
                        f"{_cell(docs.get(field.name, ''))} [{type(value).__name__}](#{anchor}) |")
            nested.append((type(value), key + "."))
            continue
        rows.append(f"| `{key}` | `{_cell(str(field.type))}` | {_code(value)} | "
                    f"{_cell(docs.get(field.name) or '-')} |")
    return rows


def _anchor(title: str) -> str:
    """The id MkDocs gives a heading: lower case, punctuation dropped, spaces as dashes."""
    return re.sub(r"[^\w\- ]", "", title.lower()).strip().replace(" ", "-")


def _summary(cls: type) -> str:
    doc = cls.__doc__ or ""
    if doc.startswith(cls.__name__ + "("):  # the signature dataclasses put there when none
        return ""
    return inspect.cleandoc(doc).split("\n\n")[0].replace("\n", " ")


def render() -> str:
    """The whole reference as Markdown."""
    out: list[str] = []
    for title, root, how in _roots():
        out += [f"## {title}", "", how, ""]
        queue: list[tuple[type, str]] = [(root, "")]
        while queue:
            cls, prefix = queue.pop(0)
            if prefix:
                out += [f"### {cls.__name__}", "", f"Keys under `{prefix[:-1]}`. "
                        + ALSO.get(cls.__name__, ""), ""]
            out += [f"`{cls.__module__}.{cls.__qualname__}`: {_summary(cls)}", ""]
            nested: list[tuple[type, str]] = []
            out += _table(cls, prefix, nested)
            out.append("")
            queue += nested
    return "\n".join(out)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """MkDocs hook: fill the placeholder of the configuration page."""
    return markdown.replace(PLACEHOLDER, render()) if PLACEHOLDER in markdown else markdown


if __name__ == "__main__":
    print(render())
