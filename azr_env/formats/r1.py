"""The default format: the reference implementation's R1-style template and prompts.

The policy continues "... Assistant: <think>", reasons, and writes
`</think> <answer> ... </answer>`; the answer holds fenced blocks. Deduction solvers answer in
```output, abduction solvers in ```input, induction solvers in ```python; proposers write
```python and ```input (induction: N ```input blocks and a ```message).

The wording follows the reference prompts (`absolute_zero_reasoner/data_construction/prompts.py`)
section by section, with the same instructions, block names and example. One deliberate change:
the reference swaps the "difficulty" criterion between the deduction and abduction proposer
prompts; here each asks for difficulty in the direction its solver works.
"""

from __future__ import annotations

from typing import ClassVar

from azr_env.formats.base import PromptFields, PromptFormat, Renderer, fenced
from azr_env.formats.fallbacks import reference_value, think_then_answer
from azr_env.task import ABDUCTION, DEDUCTION, INDUCTION

ANSWER_OPEN = "<answer>"
ANSWER_CLOSE = "</answer>"

_WRAPPER_HEAD = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant "
    "solves it. The assistant first thinks about the reasoning process in the mind and then "
    "provides the user with the answer. The reasoning process and answer are enclosed within "
    "<think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning "
    "process here </think> <answer> answer here </answer>. User: "
)
_WRAPPER_TAIL = "\nAssistant: <think>"

_EXAMPLE_INPUT = "'John', {'age': 20, 'city': 'New York'}"
_CODE_SKELETON = "def f(...):\n    # your code here\n    return ..."
_EXAMPLE_CODE = "def f(name: str, info: dict):\n    # code logic here\n    return result"
_IDENTITY = "def f(a):\n    return a"

_CODE_REQUIREMENTS = """\
- Name the entry function `f` (e.g., `def f(...): ...`); nested definitions inside `f` are allowed
- Make sure the function returns a value
- Give it at least one input parameter
- Make the function deterministic
{state}- AVOID THE FOLLOWING:
  * Random functions or variables
  * Date/time operations
  * I/O operations (reading files, network requests)
  * Printing or logging
  * Any external state
- Make sure it runs within {limit} seconds on a modern CPU
- Put all imports and class definitions at the very top of the snippet
- End the snippet with the return statement of the main function `f`; anything after it is removed"""


_STATE_TRACKING = (
    "- Make the snippet track state across several data transformations, so that solving it "
    "takes long multi-step reasoning\n"
)


def _code_requirements(fields: PromptFields, *, proposer: bool) -> str:
    """The reference asks proposers (not solvers) for state tracking across transformations."""
    return _CODE_REQUIREMENTS.format(
        limit=f"{fields.time_limit_s:g}", state=_STATE_TRACKING if proposer else ""
    )


def _banned(fields: PromptFields) -> str:
    if not fields.banned_keywords:
        return ""
    return (
        "- Restricted usage of certain keywords and packages: you may not use the following "
        f"words in any form, even in comments: {', '.join(fields.banned_keywords)}\n"
    )


def _reference_snippets(fields: PromptFields) -> str:
    parts = []
    for i, ref in enumerate(fields.references):
        parts.append(
            f"<snippet_{i}>\n{fenced('python', ref.program)}\n{fenced('input', ref.input)}\n"
            f"{fenced('output', ref.output)}\n</snippet_{i}>\n"
        )
    return "".join(parts)


def _triplet_proposer(fields: PromptFields, goal: str, difficulty: str) -> str:
    return f"""
## Task: Create a New Python Code Snippet (custom classes are allowed, defined at the top of the snippet) with one Matching Input

Using the reference code snippets below as examples, design a new and unique Python code snippet that demands deep algorithmic reasoning to {goal}. Your submission consists of a code snippet and a test input; the input will be plugged into the snippet to produce the output. {_SUBJECT[goal]} This is meant to be an I.Q. test.

### Code Requirements:
{_code_requirements(fields, proposer=True)}
- Do not put the test input anywhere in the code snippet; give it in the input section

### Input Requirements:
- Provide exactly one test input for your function
- Separate multiple arguments with commas
- Remember to put quotes around string arguments

### Formatting:
- Format your code with:
{fenced("python", _CODE_SKELETON)}
- Format your input with:
{fenced("input", "arg1, arg2, ...")}

### Example Format:
{fenced("python", _EXAMPLE_CODE)}

{fenced("input", _EXAMPLE_INPUT)}

### Evaluation Criteria:
- Executability: your code must run on your input
- Difficulty in {difficulty}. Focus on algorithmic reasoning or logical complexity: for example, define complex data structures (trees, heaps, stacks, queues, graphs, ...) and operate on them, or use complex control flow, dynamic programming, recursion, divide and conquer, greedy search, backtracking, ...
- Creativity: the code must be clearly different from the reference snippets
{_banned(fields)}
First, carefully devise a clear plan: how your snippet will be challenging, distinct from the reference snippets, and creative. Then write the final code snippet and its input.

### Reference Code Snippets:
{_reference_snippets(fields)}"""


_DEDUCTION_GOAL = "deduce the output from the input"
_ABDUCTION_GOAL = "deduce one possible input from a given output"
_SUBJECT = {
    _DEDUCTION_GOAL: "The input will be given to a test subject, who must deduce the output.",
    _ABDUCTION_GOAL: (
        "The output will be given to a test subject, who must come up with any input that "
        "produces it."
    ),
}


def deduction_propose(fields: PromptFields) -> str:
    """Proposer of a deduction triplet (the reference's `code_o` generator prompt)."""
    return _triplet_proposer(
        fields,
        _DEDUCTION_GOAL,
        "predicting the output from 1) your ```python``` code and 2) your ```input```",
    )


def abduction_propose(fields: PromptFields) -> str:
    """Proposer of an abduction triplet (the reference's `code_i` generator prompt)."""
    return _triplet_proposer(
        fields,
        _ABDUCTION_GOAL,
        "predicting your ```input``` from 1) your ```python``` code and 2) the deterministic "
        "```output``` your input produces",
    )


def induction_propose(fields: PromptFields) -> str:
    """Proposer of an induction problem: N inputs and a message for a given program."""
    n = fields.num_inputs
    snippet = fields.program + "\nf(<|YOUR INPUT WILL BE PLUGGED HERE|>)"
    examples = fenced("input", _EXAMPLE_INPUT) + "\n" + fenced(
        "input", "'Sammy', {'age': 37, 'city': 'Los Angeles'}"
    )
    return f"""
## Task: Write {n} Inputs that can be plugged into the following Code Snippet to produce diverse Outputs, and a message related to the snippet.

Using the code snippet below, design {n} inputs that produce a diverse set of outputs. A subset of your inputs and the outputs they deterministically produce will be given to a test subject, who must deduce the function; this is meant to be an I.Q. test. You may also leave a message to help the test subject deduce the code snippet.

### Input Requirements:
- Provide {n} valid inputs for the code snippet
- For each input, separate multiple arguments with commas
- Remember to put quotes around string arguments
- Wrap each input in its own ```input``` block

### Message Requirements:
- Leave a message to the test subject to help them deduce the code snippet
- Wrap the message in a ```message``` block
- The message can take any form: a coding question, or a natural-language description of what the snippet does
- You may not give the code snippet in the message

### Formatting:
- Format your input with:
{fenced("input", "arg1, arg2, ...")}

### Example Format:
{examples}

### Evaluation Criteria:
- Executability: the code must run on each of your inputs
- Coverage: the inputs and outputs should cover the input space of the snippet, enough to deduce the snippet from them
- Creativity: the inputs should differ clearly from one another
- The inputs and the message together should make the problem challenging for the test subject, but not impossible
First, carefully devise a clear plan: understand the code snippet, then decide how your inputs reach high coverage and why they are challenging and creative. Then write the inputs and the message. Remember to wrap your inputs in ```input``` blocks and your message in a ```message``` block.

### Code Snippet:
{fenced("python", snippet)}
"""


def abduction_solve(fields: PromptFields) -> str:
    """Solver of an abduction task: shown program and output, writes an ```input."""
    return f"""
# Task: Provide One Possible Input of a Python Code Snippet Given the Code and Output
Given the following Code Snippet and Output, think step by step, then give one possible input that produces the output. Wrap the input in ```input``` tags. Remember to put quotes around string arguments, and to separate multiple arguments with commas.

# Code Snippet:
{fenced("python", fields.program)}

# Output:
{fenced("output", fields.output)}

# Output Format:
{fenced("input", "arg1, arg2, ...")}
# Example Output:
{fenced("input", _EXAMPLE_INPUT)}
"""


def deduction_solve(fields: PromptFields) -> str:
    """Solver of a deduction task: shown program and input, writes the ```output."""
    return f"""
# Task: Deduce the Output of a Python Code Snippet Given the Code and Input
Given the following Code Snippet and Input, think step by step, then deduce the output produced by plugging the Input into the Code Snippet. Put your output in ```output``` tags. Remember to put quotes around a string output, and to use a tuple if the function returns several values.

# Code Snippet:
{fenced("python", fields.program)}

# Input:
{fenced("input", fields.input)}

# Example Output:
{fenced("output", "{'age': 20, 'city': 'New York'}")}
"""


def induction_solve(fields: PromptFields) -> str:
    """Solver of an induction problem: shown pairs and message, writes a ```python program."""
    pairs = "".join(
        f"{fenced(f'input_{i}', inp)}\n{fenced(f'output_{i}', out)}\n"
        for i, (inp, out) in enumerate(fields.pairs)
    )
    return f"""
# Task: Deduce the Function that Produced the Outputs from the Inputs
Given a set of input/output pairs and a message describing the function, think through the problem step by step to deduce a general code snippet. The code should produce the hidden outputs from the hidden inputs, matching the original code that generated the input/output pairs. Put your final answer inside python tags! Working through each input/output pair on its own may help you test your function; if it does not behave as expected, revise it until it does. Your response is evaluated on the final code snippet, wrapped in ```python``` tags.

# Code Requirements:
{_code_requirements(fields, proposer=False)}

# Input and Output Pairs:
{pairs}
# Message:
{fenced("message", fields.message)}

# Example Output:
{fenced("python", _IDENTITY)}

Name your entry function `f()`!!!
"""


class R1Format(PromptFormat):
    """`<think>...</think><answer>...</answer>` with the reference prompts (the default).

    Two options follow the reference code's reading of completions (`fallbacks.py`; both are on
    in the registered format `r1-reference`, which `paper-7b` uses):

    - `require_think=True`: a completion must close its `</think>` and open `<answer>` right
      after it (whitespace only between), as the reference's format check demands; by default
      only the `<answer>` tags count.
    - `answer_fallbacks=True`: a solver's input or output without its fenced block is read from
      `# Output:`, `output(...)`, `<output>`, "the output is", and at last the whole answer
      text, as the reference does; by default a missing block is a format error (spec
      section 6).
    """

    name: ClassVar[str] = "r1"
    templates: ClassVar[dict[tuple[str, str], Renderer]] = {
        (DEDUCTION, "propose"): deduction_propose,
        (ABDUCTION, "propose"): abduction_propose,
        (INDUCTION, "propose"): induction_propose,
        (DEDUCTION, "solve"): deduction_solve,
        (ABDUCTION, "solve"): abduction_solve,
        (INDUCTION, "solve"): induction_solve,
    }

    def __init__(self, *, require_think: bool = False, answer_fallbacks: bool = False) -> None:
        self.require_think = require_think
        self.answer_fallbacks = answer_fallbacks

    def wrap(self, body: str) -> str:
        return _WRAPPER_HEAD + body + _WRAPPER_TAIL

    def extract_answer(self, text: str) -> str | None:
        """The content of the last `<answer>...</answer>`; None if absent or left unclosed."""
        if not isinstance(text, str):
            return None
        start = text.rfind(ANSWER_OPEN)
        if start < 0:
            return None
        end = text.find(ANSWER_CLOSE, start + len(ANSWER_OPEN))
        if end < 0:
            return None
        if self.require_think and not think_then_answer(text):
            return None
        return text[start + len(ANSWER_OPEN) : end].strip()

    def answer_value(self, answer: str | None, kind: str) -> str | None:
        """The last `kind` block; with `answer_fallbacks`, a solver's input or output is read
        the reference's way when the block is missing."""
        block = self.last_block(answer, kind)
        if not self.answer_fallbacks or kind not in ("input", "output") or not isinstance(answer, str):
            return block
        return reference_value(answer, kind, block)


def reference_r1() -> R1Format:
    """R1 reading completions as the reference code does (`require_think`, `answer_fallbacks`)."""
    return R1Format(require_think=True, answer_fallbacks=True)
