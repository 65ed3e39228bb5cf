"""MkDocs hook: show a figure from `docs/img/` when it exists, a pointer to it otherwise.

`<!-- figure: selfplay.png | caption -->` becomes `![caption](img/selfplay.png)` once the file is
in `docs/img/`, and a sentence naming the file until then, so that `mkdocs build --strict` passes
before the figures from a real run are added (never replaced by made-up ones).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

FIGURE = re.compile(r"<!-- figure: (?P<file>[\w.-]+) \| (?P<caption>[^>]*?) -->")


def on_page_markdown(markdown: str, page: Any, config: Any, **_: Any) -> str:
    img = Path(config["docs_dir"]) / "img"
    depth = page.file.src_uri.count("/")

    def replace(match: re.Match[str]) -> str:
        name, caption = match["file"], match["caption"].strip()
        if (img / name).is_file():
            return f"![{caption}]({'../' * depth}img/{name})"
        return f"*Figure to come: {caption} (`docs/img/{name}`).*"

    return FIGURE.sub(replace, markdown)
