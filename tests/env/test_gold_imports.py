"""`EnvConfig.gold_imports`: an induction solver's program runs after the gold program's imports,
as the reference's `code_f` check runs it (`azr_env.tasks.gold_imports`)."""

from __future__ import annotations

import pytest
from env_helpers import MakeEnv, answer, block

from azr_env.errors import AZRConfigError
from azr_env.tasks.gold_imports import import_lines, with_gold_imports

GOLD = (
    "import math\nfrom collections import Counter as C\n"
    "def f(a):\n    import math\n    from . import x\n    return math.isqrt(a)"
)


def test_import_lines_are_every_import_once_in_walk_order() -> None:
    assert import_lines(GOLD) == [
        "import math", "from collections import Counter as C", "from . import x"
    ]
    assert import_lines("def f(a):\n    return a") == []
    assert with_gold_imports("def f(a):\n    return a", "def f(a):\n    return a") == (
        "def f(a):\n    return a")
    assert with_gold_imports("def f(a):\n    return 1", "import re\ndef f(a):\n    return a") == (
        "import re\ndef f(a):\n    return 1")


@pytest.mark.parametrize("gold_imports", [False, True])
def test_a_solver_relying_on_the_gold_programs_imports(
    make_env: MakeEnv, gold_imports: bool
) -> None:
    env = make_env("induction", "solve", gold_imports=gold_imports, induction_inputs=4)
    task = {
        "task_type": "induction",
        "program": "import math\ndef f(a):\n    return math.isqrt(a)",
        "inputs": ["4", "9", "16", "26"],
        "message": "Integer square roots.",
    }
    env.reset(seed=0, options={"task": task})
    # `math` is not imported by the candidate: only the gold program's import makes it run.
    _, reward, *_, info = env.step(answer(block("python", "def f(a):\n    return math.isqrt(a)")))
    assert info["accuracy"] == float(gold_imports), info
    assert (reward == 1.0) == gold_imports
    if not gold_imports:
        assert info["reason"] == "program_error", info


def test_gold_imports_must_be_a_bool(make_env: MakeEnv) -> None:
    with pytest.raises(AZRConfigError, match="gold_imports"):
        make_env("induction", "solve", gold_imports="yes")
