"""Train a tiny model for a few GRPO steps with TRL, on azr tasks and azr rewards, on the CPU.

Needs the `trl` extra (`pip install -e ".[agents,trl]"`). The model is the project's tiny random
test model (`azr_agents.testing`, built locally: nothing is downloaded), so its completions are
noise and the rewards mostly -1: this shows the plumbing (dataset, reward functions, trainer), not
learning. Swap in a real model path to train for real.
"""

from __future__ import annotations

import tempfile

import datasets
from trl import GRPOConfig, GRPOTrainer

from azr_agents.testing import build_tiny_model, build_tiny_tokenizer
from azr_env.dataset import create_dataset
from azr_env.integrations.trl import solve_rewards

STEPS = 2

# 1. Tasks: fresh generated programs, 4 per solve role, prompts in the short "plain" format.
rows = [row for task_type in ("deduction", "abduction", "induction")
        for row in create_dataset(task_type, 4, seed=0, format="plain").rows]
dataset = datasets.Dataset.from_list(rows)

# 2. The model and its tokenizer (a byte-level tokenizer: one token per byte).
tokenizer = build_tiny_tokenizer()
model = build_tiny_model(len(tokenizer), seed=0)

# 3. GRPO with one reward function per solve role; each scores its own rows in the sandbox.
with tempfile.TemporaryDirectory() as out:
    config = GRPOConfig(
        output_dir=out, max_steps=STEPS, per_device_train_batch_size=4, num_generations=4,
        max_completion_length=24, learning_rate=1e-4, beta=0.0, use_cpu=True, bf16=False,
        logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True, seed=0,
    )
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=solve_rewards(),
                          args=config, train_dataset=dataset)
    trainer.train()

for entry in trainer.state.log_history:
    if "reward" in entry:
        print(f"step {entry['step']}: reward={entry['reward']:+.3f} "
              f"loss={entry.get('loss', float('nan')):.4f}")
print(f"trained {trainer.state.global_step} GRPO steps with azr rewards")
