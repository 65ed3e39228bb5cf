"""A user's plugin for `azr train --import`: one file that adds a task type, a prompt format,
an advantage estimator and a policy backend, without editing azr.

- task type `type_prediction`: the solver sees a program and an input and names the type of
  what `f` returns; the proposer side is deduction's (it subclasses `TripletTaskType`);
- prompt format `r1-types`: the R1 format plus the new type's two templates;
- estimator `sign`: every token of a response gets the sign of its reward;
- policy backend `tiny`: a two-layer random Llama built in memory (no model folder).

Each registration appends a line to the file named by $AZR_PLUGIN_LOG, so that a test sees
which of them the run used.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import ClassVar

import torch

from azr_agents.estimators import AdvantageInput, register
from azr_agents.policies import Policy, PolicyConfig, register_backend
from azr_agents.policies.transformers_backend import TransformersPolicy
from azr_agents.testing import build_tiny_model, build_tiny_tokenizer
from azr_env.executor import Executor, Verdict
from azr_env.formats import PromptFields, R1Format, Renderer, register_format
from azr_env.task import Task
from azr_env.tasks import register_task_type
from azr_env.tasks.deduction import TripletTaskType


def _log(line: str) -> None:
    path = os.environ.get("AZR_PLUGIN_LOG")
    if path:
        with open(path, "a") as fh:
            fh.write(line + "\n")


class TypePrediction(TripletTaskType):
    """Name the type of `f(input)` (`int`, `str`, ...)."""

    name = "type_prediction"
    answer_kind = "output"

    def seed_tasks(self) -> list[Task]:
        return [Task(self.name, "def f(a):\n    return a", ("1",), ("1",), step=-1)]

    def solve_fields(self, task: Task) -> PromptFields:
        return PromptFields(program=task.program, input=task.input)

    def check_answers(
        self, executor: Executor, tasks: Sequence[Task], answers: Sequence[str]
    ) -> list[Verdict]:
        # The first element of a value tree is the output's type name.
        return [Verdict(a.strip() == t.encoded[0][0]) for t, a in zip(tasks, answers, strict=True)]


def _solve_prompt(fields: PromptFields) -> str:
    return (f"What type does f return?\n{fields.program}\nf({fields.input})\n"
            "Answer with the type name in ```output.")


class TypesFormat(R1Format):
    """R1, with templates for `type_prediction` (its own dict: R1Format is left as it is)."""

    templates: ClassVar[dict[tuple[str, str], Renderer]] = {
        **R1Format.templates,
        ("type_prediction", "propose"): R1Format.templates[("deduction", "propose")],
        ("type_prediction", "solve"): _solve_prompt,
    }


@register("sign")
def sign(inp: AdvantageInput) -> torch.Tensor:
    """A_i = sign(r_i) on every token of response i."""
    _log(f"estimator {len(inp.groups)}")
    return inp.broadcast(torch.sign(inp.float_rewards()))


def tiny_policy(config: PolicyConfig) -> Policy:
    _log("backend")
    tokenizer = build_tiny_tokenizer()
    return TransformersPolicy(build_tiny_model(len(tokenizer), seed=config.seed or 0),
                              tokenizer, config)


register_task_type(TypePrediction())
register_format("r1-types", TypesFormat)
register_backend("tiny", tiny_policy)
