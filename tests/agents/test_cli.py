"""The `azr` command's user-facing behaviour: one clear line and exit code 2 for mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from azr_agents.cli import main
from azr_agents.config import from_yaml


def test_train_imports_a_plugin_before_it_checks_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin = tmp_path / "plugin_estimator.py"
    plugin.write_text(
        "from azr_agents.estimators import register\n"
        "@register('plugin-cli-test')\n"
        "def constant(inp):\n"
        "    return inp.broadcast(inp.float_rewards() * 0)\n"
    )
    assert main(["train", "--import", str(plugin), "estimator.name=not-there"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("azr train: unknown estimator 'not-there'")
    assert "plugin-cli-test" in err and "Traceback" not in err


def test_print_config_shows_the_resolved_preset_and_overrides_without_loading_a_model(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import azr_agents.training.run

    def no_training(*_: object, **__: object) -> None:
        raise AssertionError("--print-config must not start a run")

    monkeypatch.setattr(azr_agents.training.run, "run_training", no_training)
    assert main(["train", "--preset", "paper-7b", "--print-config", "optim.lr=2e-6"]) == 0
    config = from_yaml(capsys.readouterr().out)
    assert config.policy.model == "Qwen/Qwen2.5-Coder-7B" and config.optim.lr == 2e-6
    assert config.optim.mini_batches_per_step == 3 and config.preset == "paper-7b"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--preset", "nope"], "unknown preset"),
        (["train", "optim.lr=abc"], "optim.lr"),
        (["train", "--import", "/no/such/file.py"], "no such Python file"),
        (["train", "--resume", "/no/such/run"], "not a run folder"),
        (["train", "--log-samples", "-1"], "run.log_samples must be >= 0"),
        (["exec", "/no/such/program.py", "1"], "azr exec"),
    ],
)
def test_mistakes_give_one_line_and_exit_code_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_exec_report_says_which_layers_are_active_and_why_any_is_missing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from azr_env.executor import PROBES

    assert main(["exec", "--report"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"seccomp", "layers", "missing", "probes"}
    assert set(report["probes"]) == set(PROBES)
    assert {"namespaces", "filesystem", "identity", "uid"} <= set(report["layers"])
    for probe, outcome in report["probes"].items():
        # a probe is refused by its layer, or skipped because that layer is reported missing
        assert outcome == "forbidden" or (outcome == "skipped" and report["missing"]), (
            probe,
            report,
        )


def test_every_bench_script_exists_and_documents_itself() -> None:
    from azr_agents.cli.bench import BENCHMARKS_DIR, SCRIPTS

    for name in SCRIPTS:
        script = BENCHMARKS_DIR / f"{name}.py"
        assert script.exists(), f"azr bench {name} has no {script}"
        assert script.read_text().startswith('"""'), f"{script} has no docstring for --help"
