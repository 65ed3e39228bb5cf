"""One self-play step in each of the processes `accelerate launch` starts, with a scripted policy
whose proposals are valid and differ by rank; each process writes what it saw to a JSON file.

Run by `tests/agents/test_shared_step.py` (not a test module itself):
    accelerate launch --num_processes 2 ... tests/agents/two_rank_worker.py MODEL OUT [overrides]
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import torch

from azr_agents.config import load_config
from azr_agents.policies import load_policy
from azr_agents.policies.base import Generation
from azr_agents.policies.sharding import full_parameters, shard_policy
from azr_agents.run_folder import latest_checkpoint
from azr_agents.training.distributed import DataParallel
from azr_agents.training.session import SelfPlaySession
from azr_agents.training.trainer import Trainer


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
                    text = (
                        f"</think> <answer>\n```python\n{program}\n```\n```input\n3\n```\n</answer>"
                    )
                ids = self.policy.tokenizer.encode(text, add_special_tokens=False)
                out.append(Generation(text, ids, self._sampler_logprobs(prompt, ids), i, "stop"))
        return out


    def _sampler_logprobs(self, prompt: str, ids: list[int]) -> list[float]:
        """What sampling `ids` at temperature 1 would report: the sampling model's log-probs
        (never the sharded model, whose forward is a collective)."""
        context = self.policy.encode(prompt)
        with torch.no_grad():
            logits = self.policy._gen_model(input_ids=torch.tensor([context + ids])).logits[0]
        picked = torch.log_softmax(logits[len(context) - 1 : -1].float(), dim=-1)
        return [float(v) for v in picked.gather(1, torch.tensor(ids)[:, None])[:, 0]]


def main(model: str, out: Path, overrides: list[str]) -> None:
    parallel = DataParallel()
    config = load_config("cpu-smoke", [f"policy.model={model}", *overrides])
    inner = load_policy(
        model, "transformers", gradient_checkpointing=config.policy.gradient_checkpointing
    )
    if config.optim.sharding == "fsdp":
        shard_policy(inner, parallel)
    policy = ScriptedPolicy(inner, parallel.rank)
    posed: dict[str, list[int]] = {}
    with SelfPlaySession(
        config.selfplay, seed=7919 * parallel.rank, world=parallel.world
    ) as session:
        for role in ("propose", "solve"):
            original = getattr(session, f"{role}_prompts")

            def counted(task_type: str, role: str = role, original: Any = original) -> list[str]:
                prompts: list[str] = original(task_type)
                posed.setdefault(f"{task_type}/{role}", []).append(len(prompts))
                return prompts

            setattr(session, f"{role}_prompts", counted)
        trainer = Trainer(config, policy, session, Path(out) / "run", parallel=parallel)  # type: ignore[arg-type]
        metrics = trainer.step()
        saved = trainer.save()
        before = {k: v.clone() for k, v in full_parameters(inner.model)}
        with torch.no_grad():
            for parameter in inner.model.parameters():
                parameter.add_(1.0)  # spoil the weights; resuming must bring them back
        if parallel.world > 1:
            torch.distributed.barrier()  # the main process has written the checkpoint
        checkpoint = latest_checkpoint(Path(out) / "run" / "checkpoints")
        assert checkpoint is not None and (saved is None or saved == checkpoint)
        trainer.resume(checkpoint)
        resumed = dict(full_parameters(inner.model))
        resume_gap = max(float((resumed[k] - v).abs().max()) for k, v in before.items())
        buffers = Path(out) / f"buffers-{parallel.rank}.jsonl"
        session.save_buffers(buffers)
    full = dict(full_parameters(inner.model))  # every process gathers (sharded or not)
    sampler = dict(inner._gen_model.named_parameters())
    sampler_gap = max(float((sampler[k] - v).abs().max()) for k, v in full.items())
    weights = hashlib.sha256(b"".join(full[k].numpy().tobytes() for k in sorted(full)))
    if parallel.rank == 0:
        torch.save(full, Path(out) / "weights.pt")
    report = {
        "posed": posed,
        "trained_samples": metrics["update"]["trained_samples"],
        "loss": metrics["update"].get("policy_loss"),
        "weights": weights.hexdigest(),
        "sampler_gap": sampler_gap,
        "resume_gap": resume_gap,
        "grad_norm": metrics["update"]["grad_norm"],
        "groups": {k: v["reward"] for k, v in metrics["groups"].items()},
        "world": parallel.world,
    }
    (Path(out) / f"rank-{parallel.rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3:])
