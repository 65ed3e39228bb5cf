"""A checkpoint is a model: `load_policy`, `azr eval --model` and transformers load it as it is,
and `azr export` writes the standard `save_pretrained` folder other tools expect."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from azr_agents.cli import main
from azr_agents.config import AZRConfig, load_config
from azr_agents.training.checkpoint import load_weights, save_pretrained

pytestmark = pytest.mark.slow

TINY = ["selfplay.batch_size=1", "selfplay.env.rewards.num_samples=1", "selfplay.seed_factor=0",
        "selfplay.env.buffers.num_references=1", "generation.max_new_tokens=8",
        "optim.micro_batch_size=6", "estimator.name=reinforce", "optim.lr=1e-2"]


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def trained_run(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> Iterator[tuple[Path, dict[str, torch.Tensor]]]:
    """A run folder with checkpoints of steps 1 and 2 of a trained tiny model, and its weights."""
    from azr_agents.policies import load_policy
    from azr_agents.training.session import SelfPlaySession
    from azr_agents.training.trainer import Trainer

    run_dir = tmp_path_factory.mktemp("run")
    config: AZRConfig = load_config("cpu-smoke", [*TINY, f"policy.model={tiny_model_dir}"])
    policy = load_policy(str(tiny_model_dir))
    before = _weights(policy.model)
    with SelfPlaySession(config.selfplay) as session:
        trainer = Trainer(config, policy, session, run_dir)
        trainer.write_config()
        for _ in range(2):
            trainer.step()
            trainer.save()
    after = _weights(policy.model)
    assert any(not torch.equal(before[k], after[k]) for k in before), (
        "training must move the weights"
    )
    yield run_dir, after


def test_a_checkpoint_loads_as_a_model_everywhere(trained_run: tuple[Path, dict[str, torch.Tensor]],
                                                  tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    from azr_agents.policies import load_policy

    run_dir, weights = trained_run
    checkpoint = run_dir / "checkpoints" / "step-000002"
    for model in (str(checkpoint), str(run_dir)):  # a run folder means its latest checkpoint
        policy = load_policy(model)
        assert all(torch.equal(v, weights[k]) for k, v in policy.model.state_dict().items())
    hf = AutoModelForCausalLM.from_pretrained(checkpoint)
    assert all(torch.equal(v, weights[k]) for k, v in hf.state_dict().items())
    out = tmp_path / "eval.json"
    assert main(["eval", "--model", str(checkpoint), "--limit", "1", "--max-new-tokens", "4",
                 "--out", str(out), "--no-progress"]) == 0
    assert out.exists()


def test_export_writes_a_standard_model_folder(trained_run: tuple[Path, dict[str, torch.Tensor]],
                                               tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run_dir, weights = trained_run
    out = tmp_path / "exported"
    assert main(["export", str(run_dir), str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json"} <= names
    assert not names & {"optimizer.pt", "state.pt", "buffers.jsonl"}
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
    ids = tokenizer("def f(a):", return_tensors="pt").input_ids
    assert model(ids).logits.shape[-1] == len(tokenizer)

    older = tmp_path / "step1"
    assert main(["export", str(run_dir), "--step", "1", str(older)]) == 0
    step1 = AutoModelForCausalLM.from_pretrained(older)
    assert any(not torch.equal(v, weights[k]) for k, v in step1.state_dict().items())


def test_export_rebuilds_an_old_weights_only_checkpoint(
    trained_run: tuple[Path, dict[str, torch.Tensor]], tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run_dir, weights = trained_run
    old_run = tmp_path / "old-run"
    shutil.copytree(run_dir, old_run)
    checkpoint = old_run / "checkpoints" / "step-000002"
    for path in checkpoint.iterdir():  # what checkpoints held before they were model folders
        if path.name not in ("model.safetensors", "optimizer.pt", "state.pt", "buffers.jsonl"):
            path.unlink()
    out = tmp_path / "rebuilt"
    assert main(["export", str(old_run), str(out)]) == 0
    model = AutoModelForCausalLM.from_pretrained(out)
    AutoTokenizer.from_pretrained(out)
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["export", "/no/such/run", "/tmp/azr-export-never"], "no checkpoints/ folder"),
     (["export", "{run}", "--step", "7", "{tmp}/x"], "no checkpoint of step 7"),
     (["export", "{run}", "{run}"], "not an empty folder")],
)
def test_export_mistakes_give_one_line_and_exit_code_2(
    argv: list[str], message: str, trained_run: tuple[Path, dict[str, torch.Tensor]],
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    run_dir, _ = trained_run
    assert main([a.format(run=run_dir, tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_tied_embeddings_round_trip_through_a_checkpoint(tmp_path: Path) -> None:
    """`save_pretrained` leaves out a tied lm_head; resuming loads it through its twin."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=True)
    torch.manual_seed(0)
    trained = LlamaForCausalLM(config)
    save_pretrained(tmp_path, trained, None)
    fresh = LlamaForCausalLM(config)
    load_weights(fresh, tmp_path)
    assert all(torch.equal(v, trained.state_dict()[k]) for k, v in fresh.state_dict().items())
    assert fresh.lm_head.weight.data_ptr() == fresh.model.embed_tokens.weight.data_ptr()
