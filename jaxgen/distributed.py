"""Multi-host through JAX's own runtime: `jax.distributed.initialize` when asked for."""

import logging
import os

import jax

_ENV_HINTS = ("SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE")  # >1 means several processes
_initialized = False


def _launched_multiprocess() -> bool:
  if os.environ.get("JAX_COORDINATOR_ADDRESS"):
    return True
  if any(int(os.environ.get(k, "1")) > 1 for k in _ENV_HINTS):
    return True
  hosts = os.environ.get("TPU_WORKER_HOSTNAMES", "")  # set on multi-host TPU slices
  return len([h for h in hosts.split(",") if h]) > 1


def initialize(c) -> None:
  """c = config.distributed: mode "auto" | "on" | "off"; coordinator_address, num_processes,
  process_id (empty / -1 = let JAX detect them); cpu_collectives ("gloo" for CPU clusters).

  Must run before JAX touches a device. "auto" initializes only where the launcher says
  several processes are running (SLURM, Open MPI, TPU pods, JAX_COORDINATOR_ADDRESS)."""
  global _initialized
  if _initialized or c.mode == "off" or (c.mode == "auto" and not _launched_multiprocess()):
    return
  if c.mode not in ("auto", "on"):
    raise ValueError(f"config.distributed.mode={c.mode!r}; expected 'auto', 'on' or 'off'")
  if c.cpu_collectives:
    jax.config.update("jax_cpu_collectives_implementation", c.cpu_collectives)
  jax.distributed.initialize(
      coordinator_address=c.coordinator_address or None,
      num_processes=c.num_processes if c.num_processes > 0 else None,
      process_id=c.process_id if c.process_id >= 0 else None)
  _initialized = True
  logging.info("jax.distributed: process %d of %d, %d global devices",
               jax.process_index(), jax.process_count(), jax.device_count())
