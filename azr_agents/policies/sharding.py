"""Sharded training (`optim.sharding=fsdp`): weights, gradients and AdamW state split across
processes.

With full replicas every process holds the whole model, its gradients and two AdamW moments: at
7B in fp32 that is about 7B x 16 bytes = 112 GB per GPU before activations and the vLLM engine
(docs/scaling.md). Here the trainable model is sharded with PyTorch's FSDP2 (`fully_shard` on
every decoder layer, then the root): each process keeps 1/N of every parameter, gradient and
optimizer state, all-gathers a layer's weights for its forward and backward, and
reduce-scatters (averages) its gradients, so the hand averaging of `distributed.py` is not used.

What a sharded model needs from the rest of the code:

- lockstep: every process must run the same forward and backward passes (each is a collective).
  The trainer pads each mini-batch with no-op micro-batches to the largest count of any process,
  and `logprobs` runs one forward per micro-batch (`single_pass`) instead of its planned passes.
- generation never touches the sharded model: the transformers backend samples from an
  unsharded copy made before sharding (refreshed with the gathered weights after every update),
  the vLLM backend from its engine; both receive the full weights from `full_parameters`.
- checkpoints hold the full weights and the full optimizer state (gathered on every process,
  written by the main one), so a checkpoint is the same folder with or without sharding.

Runs on CPUs (gloo) as on GPUs (NCCL); tested with two CPU processes against the unsharded path.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import torch

SHARDINGS = ("none", "fsdp")


def trainable_backend(policy: Any) -> Any:
    """The policy object that owns the trainable model's forward (vLLM delegates to one)."""
    return getattr(policy, "_trainer", policy)


def shard_policy(policy: Any, parallel: Any) -> None:
    """Shard `policy.model` over all processes (call before the optimizer is built)."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    backend = trainable_backend(policy)
    model = policy.model
    if backend is policy and getattr(backend, "_gen_model", None) is model:
        # sampling must not run collectives: it keeps an unsharded copy of its own (a vLLM
        # policy samples from its engine and needs none)
        unsharded: Any = copy.deepcopy(model)
        backend._gen_model = unsharded.eval().requires_grad_(False)
    backend.single_pass = True
    device = "cuda" if parallel.device.type == "cuda" else "cpu"
    mesh = init_device_mesh(device, (parallel.world,))
    layers = getattr(getattr(model, "model", None), "layers", None)
    for layer in layers if layers is not None else []:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    model.azr_sharded = True


def is_sharded(model: Any) -> bool:
    return bool(getattr(model, "azr_sharded", False))


def full_tensor(tensor: torch.Tensor) -> torch.Tensor:
    """The whole tensor of a shard (a collective: every process must ask in the same order)."""
    from torch.distributed.tensor import DTensor

    return tensor.full_tensor() if isinstance(tensor, DTensor) else tensor


def full_parameters(model: torch.nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    """`named_parameters` with every shard gathered into its whole parameter."""
    for name, parameter in model.named_parameters():
        yield name, full_tensor(parameter.detach())


def full_states(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The whole model and optimizer state dicts, on CPU (every process must call this)."""
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
        get_optimizer_state_dict,
    )

    options = StateDictOptions(full_state_dict=True, cpu_offload=True, broadcast_from_rank0=False)
    weights = get_model_state_dict(model, options=options)
    optim = get_optimizer_state_dict(model, optimizer, options=options)
    return weights, optim


def load_full_states(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                     weights: dict[str, Any], optim: dict[str, Any]) -> None:
    """Put whole state dicts (as `full_states` made them) into a sharded model and optimizer."""
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    options = StateDictOptions(full_state_dict=True)
    set_model_state_dict(model, weights, options=options)
    set_optimizer_state_dict(model, optimizer, optim, options=options)
