"""One self-play step in each of the processes `accelerate launch` starts, with a scripted policy
whose proposals are valid and differ by rank; each process writes what it saw to a JSON file.

Run by `tests/agents/test_shared_step.py` (not a test module itself):
    accelerate launch --num_processes 2 ... tests/agents/two_rank_worker.py MODEL OUT [overrides]
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from azr_agents.config import load_config
from azr_agents.distributed import DataParallel
from azr_agents.policies import load_policy
from azr_agents.policies.base import Generation
from azr_agents.selfplay import SelfPlaySession
from azr_agents.trainer import Trainer


class ScriptedPolicy:
    """The tiny model for log-probs and updates; scripted texts for generation: every triplet
    proposal is a valid program naming this rank, everything else is junk."""

    def __init__(self, policy: Any, rank: int) -> None:
        self.policy = policy
        self.rank = rank
        self.count = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.policy, name)

    def generate(self, prompts: list[str], max_new_tokens: int, temperature: float,
                 top_p: float = 1.0, n: int = 1, stop: list[str] | None = None) -> list[Generation]:
        out = []
        for i, prompt in enumerate(prompts):
            for _ in range(n):
                self.count += 1
                text = "junk"
                if "Create a New Python Code Snippet" in prompt:
                    program = f"def f(a):\n    return a * {self.rank + 2} + {self.count}"
                    text = f"</think> <answer>\n```python\n{program}\n```\n```input\n3\n```\n</answer>"
                ids = self.policy.tokenizer.encode(text, add_special_tokens=False)
                out.append(Generation(text, ids, [-1.0] * len(ids), i, "stop"))
        return out


def main(model: str, out: Path, overrides: list[str]) -> None:
    parallel = DataParallel()
    config = load_config("cpu-smoke", [f"policy.model={model}", *overrides])
    policy = ScriptedPolicy(load_policy(model), parallel.rank)
    posed: dict[str, list[int]] = {}
    with SelfPlaySession(config.selfplay, seed=7919 * parallel.rank, world=parallel.world) as session:
        for role in ("propose", "solve"):
            original = getattr(session, f"{role}_prompts")

            def counted(task_type: str, rng: Any, role: str = role, original: Any = original) -> list[str]:
                prompts: list[str] = original(task_type, rng)
                posed.setdefault(f"{task_type}/{role}", []).append(len(prompts))
                return prompts

            setattr(session, f"{role}_prompts", counted)
        with tempfile.TemporaryDirectory() as folder:
            trainer = Trainer(config, policy, session, Path(folder), parallel=parallel)  # type: ignore[arg-type]
            metrics = trainer.step()
        buffers = Path(out) / f"buffers-{parallel.rank}.jsonl"
        session.save_buffers(buffers)
    weights = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in policy.model.parameters()))
    report = {"posed": posed, "trained_samples": metrics["update"]["trained_samples"],
              "loss": metrics["update"].get("loss"), "weights": weights.hexdigest(),
              "groups": {k: v["reward"] for k, v in metrics["groups"].items()},
              "world": parallel.world}
    (Path(out) / f"rank-{parallel.rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3:])
