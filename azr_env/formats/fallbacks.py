"""The reference code's answer-reading fallbacks and format check, for `R1Format` options.

The reference (LeapLabTHU/Absolute-Zero-Reasoner, `rewards/reward_managers.py`,
`extract_input_output`) reads a solver's input or output from the `<answer>` text in this order,
taking the last match of the first form that matches:

1. a fenced ```output (```input) block;
2. `# Output:` (`# Input:`) up to the next line that opens a fence, or the end;
3. a call `output(...)` (`input(...)`), up to the first `)`;
4. `<output>` (`<input>`) up to `</output>`, or the end;
5. "the output is" ("the input is") up to the end, without one final period;
6. the whole answer text.

All markers are matched case-insensitively. Its format check (`custom_evaluate.get_format_reward`)
requires the completion to be `<think> ... </think>` followed, after whitespace only, by
`<answer> ... </answer>`. The functions here reproduce both, in linear time (one forward scan
per form, no backtracking regular expressions over the whole text): parsers see raw model output.
"""

from __future__ import annotations

import re
from collections.abc import Callable

THINK_CLOSE = "</think>"
ANSWER_OPEN = "<answer>"
ANSWER_CLOSE = "</answer>"


def think_then_answer(text: str) -> bool:
    """The reference's format check on a completion that continues `... <think>`: some
    `</think>` is followed, after whitespace only, by an `<answer>` that is closed later."""
    last_close = text.rfind(ANSWER_CLOSE)
    pos = text.find(THINK_CLOSE)
    while pos >= 0:
        after = pos + len(THINK_CLOSE)
        while after < len(text) and text[after].isspace():
            after += 1
        if text.startswith(ANSWER_OPEN, after):
            return last_close >= after + len(ANSWER_OPEN)
        pos = text.find(THINK_CLOSE, after)
    return False


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


End = Callable[[str, int], "tuple[int, int] | None"]
"""Where a match whose content starts at an index ends: (content end, match end), or None when
neither this match nor any later one can end (the scan stops)."""


def _last_match(text: str, marker: re.Pattern[str], end_of: End) -> str | None:
    """The content of the last of the non-overlapping matches found left to right, as
    `re.finditer(marker + content + end)` would find them."""
    last = None
    pos = 0
    while (found := marker.search(text, pos)) is not None:
        bounds = end_of(text, found.end())
        if bounds is None:
            break
        last = text[found.end() : bounds[0]]
        pos = max(bounds[1], found.end())
    return last


def _until_fence(text: str, start: int) -> tuple[int, int]:
    """`\\s*(.*?)(?=\\n```|$)`: up to the next line opening a fence, or the end."""
    start = _skip_space(text, start)
    end = text.find("\n```", start)
    if end < 0:
        end = len(text) - 1 if text.endswith("\n") else len(text)
    return end, end


def _until_paren(text: str, start: int) -> tuple[int, int] | None:
    """`(.*?)\\)`: up to the first `)`; with none, no later call can match either."""
    end = text.find(")", start)
    return None if end < 0 else (end, end + 1)


def _until_tag(close: str) -> End:
    """`\\s*(.*?)(?:</tag>|\\s*$)`: up to the closing tag, or the trailing whitespace."""
    pattern = re.compile(re.escape(close), re.IGNORECASE)

    def end_of(text: str, start: int) -> tuple[int, int]:
        closed = pattern.search(text, _skip_space(text, start))
        if closed is not None:
            return closed.start(), closed.end()
        return max(len(text.rstrip()), start), len(text)

    return end_of


def _to_end_without_period(text: str, start: int) -> tuple[int, int]:
    """`\\s*(.*?)\\.?$`: the rest, without a final newline and then one final period."""
    end = len(text) - 1 if text.endswith("\n") else len(text)
    if end > start and text[end - 1] == ".":
        end -= 1
    return max(end, start), len(text)


def reference_value(answer: str, kind: str, block: str | None) -> str:
    """The reference's reading of a solver's `kind` ("input" or "output") from `answer`, given
    the last fenced block of that kind (`block`, None when there is none)."""
    if block is not None:
        return block
    forms: list[tuple[str, End]] = [
        (re.escape(f"# {kind}:"), _until_fence),
        (rf"{kind}\s*\(", _until_paren),
        (re.escape(f"<{kind}>"), _until_tag(f"</{kind}>")),
        (re.escape(f"the {kind} is"), _to_end_without_period),
    ]
    for marker, end_of in forms:
        found = _last_match(answer, re.compile(marker, re.IGNORECASE), end_of)
        if found is not None:
            return found.strip()
    return answer.strip()
