"""A procedural generator of small Python programs: fresh solve tasks with difficulty knobs.

Written for this project, in the spirit of reasoning-gym's procedural datasets: no network and no
model, and random access by key (`Random(key)` builds item `key` alone, so a dataset of seed `s`
has item `idx` at key `s + idx`). A program is a function `f` over typed values (ints, strings,
lists, dicts) that threads state through `steps` statements: assignments built from a table of
operations, loops that accumulate over a list, and branches, nested up to `depth`. Every
operation in the table is total on the values it is given (no division by a variable, no
indexing past an end, no unbounded loop), so almost every program validates; the few whose
output grows past the executor's cap are refused by validation like any other task.

Knobs (`GeneratorConfig`): `steps`, `depth`, `operations` (families below), `data_types`
(`int`, `str`, `list`, `dict`), `max_items` (length of input lists, strings and dicts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from random import Random

from azr_env.errors import AZRConfigError
from azr_env.sources.base import Candidate, TaskSource
from azr_env.task import INDUCTION, TASK_TYPES

INT, STR, ILIST, SLIST, IDICT, SDICT = (
    "int", "str", "list[int]", "list[str]", "dict[int, int]", "dict[str, int]"
)
DATA_TYPES: dict[str, tuple[str, ...]] = {
    "int": (INT,), "str": (STR,), "list": (ILIST, SLIST), "dict": (IDICT, SDICT),
}
"""The `data_types` knob's names and the value types each one lets through."""

OPERATIONS: tuple[str, ...] = (
    "arithmetic", "builtins", "methods", "comprehensions", "loops", "branches"
)
"""Families of operations the `operations` knob chooses from."""

_LETTERS = "abcde"
_WORDS = ("ab", "bca", "cab", "dd", "eba", "ace", "bead", "cede", "a", "ded")

# (family, argument types, result type, template). Templates name their arguments {a} and {b}
# and constants {c} (an int from 2 to 6), {ch} and {ch2} (letters), {w} (a short word).
_OPS: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    ("arithmetic", (INT,), INT, "{a} + {c}"),
    ("arithmetic", (INT,), INT, "{a} * {c}"),
    ("arithmetic", (INT,), INT, "{a} - {c}"),
    ("arithmetic", (INT,), INT, "{a} // {c}"),
    ("arithmetic", (INT,), INT, "{a} % {c}"),
    ("arithmetic", (INT,), INT, "abs({a} - {c})"),
    ("arithmetic", (INT, INT), INT, "{a} + {b}"),
    ("arithmetic", (INT, INT), INT, "{a} - {b}"),
    ("arithmetic", (INT, INT), INT, "{a} * {b} % 97"),
    ("builtins", (INT, INT), INT, "max({a}, {b})"),
    ("builtins", (INT, INT), INT, "min({a}, {b})"),
    ("builtins", (INT,), STR, "str({a})"),
    ("builtins", (INT,), ILIST, "list(range({a} % {c}))"),
    ("builtins", (STR,), INT, "len({a})"),
    ("builtins", (STR,), SLIST, "sorted({a})"),
    ("builtins", (ILIST,), INT, "sum({a})"),
    ("builtins", (ILIST,), INT, "len({a})"),
    ("builtins", (ILIST,), INT, "max({a}, default={c})"),
    ("builtins", (ILIST,), INT, "min({a}, default=-{c})"),
    ("builtins", (ILIST,), ILIST, "sorted({a})"),
    ("builtins", (ILIST,), ILIST, "sorted({a}, reverse=True)"),
    ("builtins", (ILIST,), ILIST, "list(reversed({a}))"),
    ("builtins", (SLIST,), SLIST, "sorted({a})"),
    ("builtins", (SLIST,), INT, "len({a})"),
    ("builtins", (IDICT,), INT, "sum({a}.values())"),
    ("builtins", (IDICT,), ILIST, "sorted({a})"),
    ("builtins", (SDICT,), INT, "sum({a}.values())"),
    ("builtins", (SDICT,), SLIST, "sorted({a})"),
    ("builtins", (SDICT,), ILIST, "sorted({a}.values())"),
    ("methods", (STR,), STR, "{a}.upper()"),
    ("methods", (STR,), STR, "{a}.replace('{ch}', '{ch2}')"),
    ("methods", (STR,), STR, "{a}.strip('{ch}')"),
    ("methods", (STR,), STR, "{a}[::-1]"),
    ("methods", (STR,), STR, "{a}[1:]"),
    ("methods", (STR,), STR, "{a}[:{c}]"),
    ("methods", (STR,), STR, "{a} + '{w}'"),
    ("methods", (STR,), STR, "{a}.swapcase()"),
    ("methods", (STR,), INT, "{a}.count('{ch}')"),
    ("methods", (STR,), INT, "{a}.find('{ch}')"),
    ("methods", (STR,), SLIST, "{a}.split('{ch}')"),
    ("methods", (STR, STR), STR, "{a} + {b}"),
    ("methods", (SLIST,), STR, "''.join({a})"),
    ("methods", (SLIST,), STR, "'-'.join({a})"),
    ("methods", (ILIST,), INT, "{a}.count({c})"),
    ("methods", (ILIST,), ILIST, "{a}[::-1]"),
    ("methods", (ILIST,), ILIST, "{a}[1:]"),
    ("methods", (ILIST,), ILIST, "{a}[:{c}]"),
    ("methods", (ILIST,), ILIST, "{a} + [{c}]"),
    ("methods", (ILIST, INT), ILIST, "{a} + [{b}]"),
    ("methods", (IDICT,), IDICT, "dict(sorted({a}.items()))"),
    ("methods", (SDICT,), SDICT, "dict(sorted({a}.items()))"),
    ("methods", (SDICT,), INT, "{a}.get('{w}', {c})"),
    ("methods", (IDICT, INT), INT, "{a}.get({b}, -1)"),
    ("comprehensions", (ILIST,), ILIST, "[x * {c} for x in {a}]"),
    ("comprehensions", (ILIST,), ILIST, "[x for x in {a} if x % {c} == 0]"),
    ("comprehensions", (ILIST,), ILIST, "[x + {c} for x in {a} if x > {c}]"),
    ("comprehensions", (ILIST,), ILIST, "[abs(x - {c}) for x in {a}]"),
    ("comprehensions", (ILIST, INT), ILIST, "[x - {b} for x in {a}]"),
    ("comprehensions", (SLIST,), SLIST, "[w.upper() for w in {a}]"),
    ("comprehensions", (SLIST,), SLIST, "[w for w in {a} if '{ch}' in w]"),
    ("comprehensions", (SLIST,), SLIST, "[w[::-1] for w in {a}]"),
    ("comprehensions", (SLIST,), ILIST, "[len(w) for w in {a}]"),
    ("comprehensions", (ILIST,), IDICT, "{{x: x * {c} for x in {a}}}"),
    ("comprehensions", (ILIST,), IDICT, "{{x % {c}: x for x in {a}}}"),
    ("comprehensions", (SLIST,), SDICT, "{{w: len(w) for w in {a}}}"),
    ("comprehensions", (STR,), SDICT, "{{ch: {a}.count(ch) for ch in {a}}}"),
    ("comprehensions", (IDICT,), IDICT, "{{k: v * {c} for k, v in {a}.items()}}"),
    ("comprehensions", (IDICT,), IDICT, "{{k: v for k, v in {a}.items() if v > {c}}}"),
    ("comprehensions", (SDICT,), SDICT, "{{k: v + {c} for k, v in {a}.items()}}"),
    ("comprehensions", (SDICT,), SDICT, "{{k: v for k, v in {a}.items() if v % {c}}}"),
    ("comprehensions", (SDICT,), SLIST, "[k for k, v in {a}.items() if v > {c}]"),
)

# Loop accumulators: (accumulator type, item type, initial value, update statement).
_LOOPS: tuple[tuple[str, str, str, str], ...] = (
    (INT, INT, "0", "{acc} = {acc} + {item}"),
    (INT, INT, "0", "{acc} = {acc} * 2 - {item}"),
    (INT, INT, "-{c}", "{acc} = max({acc}, {item} * {c})"),
    (INT, STR, "0", "{acc} = {acc} + len({item})"),
    (STR, STR, "''", "{acc} = {acc} + {item}[:1]"),
    (STR, STR, "''", "{acc} = {item} + {acc}"),
    (ILIST, INT, "[]", "{acc} = {acc} + [{item} % {c}]"),
    (ILIST, STR, "[]", "{acc} = [len({item})] + {acc}"),
    (IDICT, INT, "{{}}", "{acc}[{item} % {c}] = {acc}.get({item} % {c}, 0) + {item}"),
    (SDICT, STR, "{{}}", "{acc}[{item}] = {acc}.get({item}, 0) + {c}"),
)

_CONDITIONS: dict[str, tuple[str, ...]] = {
    INT: ("{a} > {c}", "{a} % 2 == 0", "{a} < 0"),
    STR: ("'{ch}' in {a}", "len({a}) > {c}", "{a}.startswith('{ch}')"),
    ILIST: ("len({a}) > {c}", "{c} in {a}", "sum({a}) % 2 == 1"),
    SLIST: ("len({a}) > {c}", "'{w}' in {a}"),
    IDICT: ("len({a}) > {c}", "{c} in {a}"),
    SDICT: ("len({a}) > {c}", "'{w}' in {a}"),
}

_NAMES = {INT: "n", STR: "s", ILIST: "nums", SLIST: "words", IDICT: "table", SDICT: "counts"}
_DESCRIBED = {INT: "an int", STR: "a string", ILIST: "a list of ints", SLIST: "a list of strings",
              IDICT: "a dict from ints to ints", SDICT: "a dict from strings to ints"}
_ELEMENT = {ILIST: INT, SLIST: STR}


@dataclass
class GeneratorConfig:
    """Difficulty knobs of the program generator (omegaconf-friendly).

    - `steps`: statements in `f`'s body before its `return` (more state to track).
    - `depth`: how deeply loops and branches nest (0: straight-line code).
    - `operations`: the families drawn from, among `OPERATIONS`: `arithmetic`, `builtins`
      (`len`, `sum`, `sorted`, ...), `methods` (string, list and dict methods, slicing),
      `comprehensions`, `loops`, `branches`.
    - `data_types`: the value types parameters and intermediate values may have, among `int`,
      `str`, `list` (of ints or strings) and `dict` (from ints or strings to ints).
    - `max_items`: the most elements (or characters) of an input list, string or dict.
    - `num_parameters`: 1 or 2 parameters, or 0 to draw it per program.
    """

    steps: int = 4
    depth: int = 1
    operations: list[str] = field(default_factory=lambda: list(OPERATIONS))
    data_types: list[str] = field(default_factory=lambda: list(DATA_TYPES))
    max_items: int = 6
    num_parameters: int = 0

    def validate(self) -> None:
        """Raise `AZRConfigError` naming the knob to change."""
        for name, low, high in (("steps", 1, 50), ("depth", 0, 5), ("max_items", 1, 50),
                                ("num_parameters", 0, 2)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise AZRConfigError(
                    f"generator {name} must be an int in [{low}, {high}], got {value!r}"
                )
        for name, known in (("operations", OPERATIONS), ("data_types", tuple(DATA_TYPES))):
            chosen = getattr(self, name)
            bad = [x for x in chosen if x not in known]
            if isinstance(chosen, str) or not chosen or bad:
                raise AZRConfigError(
                    f"generator {name} must be a non-empty list among {list(known)}, got {chosen!r}"
                )
        if not _usable_ops(self):
            raise AZRConfigError(
                f"no generator operation in {self.operations} works on {self.data_types}: "
                "add 'builtins', 'methods' or 'comprehensions', or another data type"
            )

    def value_types(self) -> tuple[str, ...]:
        return tuple(t for name in self.data_types for t in DATA_TYPES[name])


Op = tuple[str, tuple[str, ...], str, str]


def _usable_ops(config: GeneratorConfig) -> list[Op]:
    types = set(config.value_types())
    return [op for op in _OPS if op[0] in config.operations and set(op[1]) <= types
            and op[2] in types]


class _Tables:
    """The operation table filtered for one (operations, data types) setting, with the lookups
    every program of that setting repeats; built once per setting (see `_tables`)."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.ops = _usable_ops(config)
        self.types = set(config.value_types())
        # The first parameter needs an operation that applies to it alone.
        self.starts = [t for t in config.value_types() if any(op[1] == (t,) for op in self.ops)]
        self._applicable: dict[tuple[frozenset[str], str], tuple[list[Op], list[Op]]] = {}

    def applicable(self, have: frozenset[str], newest: str) -> tuple[list[Op], list[Op]]:
        """(operations whose arguments are all in scope, those of them on the newest type)."""
        found = self._applicable.get((have, newest))
        if found is None:
            ops = [op for op in self.ops if set(op[1]) <= have]
            found = self._applicable[(have, newest)] = (ops, [op for op in ops
                                                              if op[1][0] == newest])
        return found


_TABLES: dict[tuple[tuple[str, ...], tuple[str, ...]], _Tables] = {}


def _tables(config: GeneratorConfig) -> _Tables:
    key = (tuple(config.operations), tuple(config.data_types))
    if key not in _TABLES:
        _TABLES[key] = _Tables(config)
    return _TABLES[key]


class _Builder:
    """Builds one program from one `Random`; variables are tracked with their types."""

    def __init__(self, rng: Random, config: GeneratorConfig) -> None:
        self.rng = rng
        self.config = config
        self.tables = _tables(config)
        self.ops = self.tables.ops
        self.types = self.tables.types
        self.scope: list[tuple[str, str]] = []
        self.lines: list[str] = []
        self.shapes: set[str] = set()
        self.counter = 0

    def fill(self, template: str, **names: str) -> str:
        """`template` with its variables named and its constants drawn (only those it uses)."""
        rng = self.rng
        if "{c}" in template:
            names["c"] = str(2 + int(rng.random() * 5))
        if "{ch}" in template:
            names["ch"] = _LETTERS[int(rng.random() * len(_LETTERS))]
        if "{ch2}" in template:
            names["ch2"] = _LETTERS[int(rng.random() * len(_LETTERS))]
        if "{w}" in template:
            names["w"] = _WORDS[int(rng.random() * len(_WORDS))]
        return template.format(**names)

    def fresh(self) -> str:
        self.counter += 1
        return f"t{self.counter}"

    def pick(self, wanted: str) -> str | None:
        """A variable of type `wanted`, the most recent ones more likely (keeps state threaded)."""
        names = [n for n, t in self.scope if t == wanted]
        if not names:
            return None
        return names[-1] if self.rng.random() < 0.6 else self.rng.choice(names)

    def expression(self) -> tuple[str, str] | None:
        """(text, type) of one operation applied to variables in scope."""
        # Prefer operations on the newest variable, so later statements build on earlier ones.
        ops, on_newest = self.tables.applicable(frozenset(t for _, t in self.scope),
                                                self.scope[-1][1])
        if not ops:
            return None
        _, args, result, template = self.rng.choice(on_newest if on_newest and
                                                    self.rng.random() < 0.7 else ops)
        first = str(self.pick(args[0]))  # `ops` hold only operations on types in scope
        second = ""
        if len(args) > 1:
            # `t - t` or `t + t` is a disguised constant: take another variable when one exists.
            others = [n for n, t in self.scope if t == args[1] and n != first]
            second = self.rng.choice(others) if others else str(self.pick(args[1]))
        return self.fill(template, a=first, b=second), result

    def condition(self) -> str:
        name, kind = self.rng.choice(self.scope)
        return self.fill(self.rng.choice(_CONDITIONS[kind]), a=name)

    def statement(self, indent: str, level: int) -> None:
        """One new statement; one that repeats an earlier one (up to its target's name) is
        drawn again, and left out after a few tries, so no program computes a thing twice."""
        for _ in range(4):
            lines, scope, counter = len(self.lines), len(self.scope), self.counter
            self._statement(indent, level)
            if len(self.scope) == scope:
                return
            name = self.scope[-1][0]
            shape = "\n".join(self.lines[lines:]).replace(name, "_")
            if shape not in self.shapes:
                self.shapes.add(shape)
                return
            del self.lines[lines:], self.scope[scope:]
            self.counter = counter

    def _statement(self, indent: str, level: int) -> None:
        families = self.config.operations
        can_nest = level < self.config.depth
        lists = [(n, t) for n, t in self.scope if t in _ELEMENT]
        roll = self.rng.random()
        if can_nest and "loops" in families and lists and roll < 0.35 and self.loop(indent, level):
            return
        if can_nest and "branches" in families and roll > 0.7 and self.branch(indent, level):
            return
        self.assign(indent)

    def assign(self, indent: str) -> None:
        made = self.expression()
        if made is None:
            return
        text, kind = made
        name = self.fresh()
        self.lines.append(f"{indent}{name} = {text}")
        self.scope.append((name, kind))

    def branch(self, indent: str, level: int) -> bool:
        """`if <cond>: v = e1 else: v = e2`, both sides of one type (nested ones may follow)."""
        first = self.expression()
        if first is None:
            return False
        text, kind = first
        other = None
        for _ in range(4):
            made = self.expression()
            if made is not None and made[1] == kind and made[0] != text:
                other = made[0]
                break
        if other is None:
            return False
        name = self.fresh()
        self.lines.append(f"{indent}if {self.condition()}:")
        self.lines.append(f"{indent}    {name} = {text}")
        self.lines.append(f"{indent}else:")
        self.lines.append(f"{indent}    {name} = {other}")
        self.scope.append((name, kind))
        return True

    def loop(self, indent: str, level: int) -> bool:
        """An accumulator over a list variable; its update may sit in nested branches."""
        lists = [(n, t) for n, t in self.scope if t in _ELEMENT]
        source, kind = self.rng.choice(lists)
        item_type = _ELEMENT[kind]
        fits = [lp for lp in _LOOPS if lp[1] == item_type and lp[0] in self.types]
        if not fits:
            return False
        acc = self.fresh()
        acc_type, _, init, _ = self.rng.choice(fits)
        self.lines.append(f"{indent}{acc} = {self.fill(init)}")
        self.lines.append(f"{indent}for item in {source}:")
        self.update(indent + "    ", level + 1, acc, acc_type, item_type)
        self.scope.append((acc, acc_type))
        return True

    def update(self, indent: str, level: int, acc: str, acc_type: str, item_type: str) -> None:
        if level < self.config.depth and "branches" in self.config.operations \
                and self.rng.random() < 0.6:
            cond = self.fill(self.rng.choice(_CONDITIONS[item_type]), a="item")
            start = len(self.lines)
            self.lines.append(f"{indent}if {cond}:")
            self.update(indent + "    ", level + 1, acc, acc_type, item_type)
            middle = len(self.lines)
            self.lines.append(f"{indent}else:")
            self.update(indent + "    ", level + 1, acc, acc_type, item_type)
            same = [x.strip() for x in self.lines[start + 1:middle]] == \
                [x.strip() for x in self.lines[middle + 1:]]
            if not same:
                return
            del self.lines[start:]  # both sides alike: the branch would be a disguise
        self.lines.append(indent + self.leaf(acc, acc_type, item_type))

    def leaf(self, acc: str, acc_type: str, item_type: str) -> str:
        fits = [lp for lp in _LOOPS if lp[0] == acc_type and lp[1] == item_type]
        template = self.rng.choice(fits)[3]
        return self.fill(template, acc=acc, item="item")


def _value(rng: Random, kind: str, max_items: int) -> str:
    """A random input value of `kind`, as Python source."""
    size = rng.randint(1, max_items)
    if kind == INT:
        return str(rng.randint(-9, 30))
    if kind == STR:
        return repr("".join(rng.choice(_LETTERS) for _ in range(size)))
    if kind == ILIST:
        return repr([rng.randint(-5, 20) for _ in range(size)])
    if kind == SLIST:
        return repr([rng.choice(_WORDS) for _ in range(size)])
    if kind == IDICT:
        return repr({rng.randint(0, 9): rng.randint(-5, 20) for _ in range(size)})
    return repr({rng.choice(_WORDS): rng.randint(0, 9) for _ in range(size)})


def generate(
    key: int, config: GeneratorConfig, num_inputs: int = 1
) -> tuple[str, tuple[str, ...], str]:
    """(program, inputs, message) for `key`: `Random(key)` alone decides them.

    `num_inputs` distinct inputs are drawn when the parameter types allow that many.
    """
    rng = Random(key)
    types = list(config.value_types())
    arity = config.num_parameters or rng.choice((1, 1, 2))
    builder = _Builder(rng, config)
    starts = builder.tables.starts
    params: list[tuple[str, str]] = []
    for i in range(arity):
        kind = rng.choice(starts if i == 0 else types)
        name = _NAMES[kind] if all(kind != k for _, k in params) else f"{_NAMES[kind]}{i + 1}"
        params.append((name, kind))
    builder.scope = list(params)
    for _ in range(config.steps):
        builder.statement("    ", 0)
    result = builder.scope[-1][0]
    header = f"def f({', '.join(n for n, _ in params)}):"
    program = "\n".join([header, *builder.lines, f"    return {result}"])
    inputs: list[str] = []
    for _ in range(num_inputs * 4):
        args = ", ".join(_value(rng, kind, config.max_items) for _, kind in params)
        if args not in inputs:
            inputs.append(args)
        if len(inputs) == num_inputs:
            break
    returned = dict(builder.scope)[result]
    described = " and ".join(_DESCRIBED[k] for _, k in params)
    message = f"f takes {described} and returns {_DESCRIBED[returned]}."
    return program, tuple(inputs), message


class GeneratorSource(TaskSource):
    """Fresh programs for deduction, abduction and induction; unbounded, key `k` is `Random(k)`.

    Induction candidates get `num_inputs` inputs (the env's `induction_inputs`, paper: 10).
    """

    name = "generator"
    trusted = True
    prechecked = True  # no imports, `f` has parameters, inputs are reprs (tests/env check it)

    def __init__(self, config: GeneratorConfig | None = None, *, num_inputs: int = 10,
                 **knobs: object) -> None:
        if config is not None and knobs:
            raise AZRConfigError("pass either a GeneratorConfig or knobs as keywords, not both")
        if config is None:
            unknown = sorted(set(knobs) - set(GeneratorConfig.__dataclass_fields__))
            if unknown:
                raise AZRConfigError(f"unknown generator knob(s) {unknown}; known: "
                                     f"{sorted(GeneratorConfig.__dataclass_fields__)}")
            config = GeneratorConfig(**knobs)  # type: ignore[arg-type]
        config.validate()
        if isinstance(num_inputs, bool) or not isinstance(num_inputs, int) or num_inputs < 2:
            raise AZRConfigError(f"num_inputs must be an int >= 2, got {num_inputs!r}")
        self.config = config
        self.num_inputs = num_inputs

    @property
    def task_types(self) -> tuple[str, ...]:
        return TASK_TYPES

    def size(self, task_type: str) -> int | None:
        self.check_type(task_type)
        return None

    def candidate(self, task_type: str, key: int) -> Candidate:
        self.check_type(task_type)
        n = self.num_inputs if task_type == INDUCTION else 1
        program, inputs, message = generate(key, self.config, n)
        return Candidate(task_type, program, inputs,
                         message=message if task_type == INDUCTION else "",
                         origin=f"generator/{key}")


__all__ = ["DATA_TYPES", "OPERATIONS", "GeneratorConfig", "GeneratorSource", "generate"]
