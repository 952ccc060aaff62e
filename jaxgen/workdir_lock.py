"""One trainer per workdir: WORKDIR/train.lock names the process that trains in it.

The file holds the holder's pid, host and process start time (JSON). It is created atomically
(written aside, then hard-linked into place, which fails if the name exists), so a reader never
sees half a lock. A second trainer finds it and refuses with a one-line error naming the holder.
A lock whose pid no longer runs on this host (the job was killed -9) is stale: it is taken over
with a warning. A lock of another host cannot be checked from here and is never taken over.
"""

import json
import logging
import os
import socket
import time

LOCK_FILE = "train.lock"


class WorkdirLockedError(FileExistsError):
  """Another live process trains in this workdir."""


def _start_time(pid: int) -> str | None:
  """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
  try:
    with open(f"/proc/{pid}/stat") as f:
      return f.read().rpartition(")")[2].split()[19]
  except (OSError, IndexError):
    return None


def _me() -> dict:
  pid = os.getpid()
  return {"pid": pid, "host": socket.gethostname(), "start": _start_time(pid),
          "since": time.strftime("%Y-%m-%d %H:%M:%S")}


def _read(path: str) -> dict | None:
  """The lock's record; None if it is gone or unreadable (a lock half-written by hand)."""
  try:
    with open(path) as f:
      record = json.load(f)
    return record if isinstance(record, dict) and "pid" in record and "host" in record else None
  except (OSError, ValueError):
    return None


def _alive(record: dict) -> bool:
  """Whether the lock's holder may still run: always for another host (unknowable from here)."""
  if record["host"] != socket.gethostname():
    return True
  pid = int(record["pid"])
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    pass  # alive, another user's
  start = _start_time(pid)
  return record.get("start") is None or start is None or start == record["start"]


def describe(record: dict) -> str:
  return f"pid {record['pid']} on host {record['host']} (since {record.get('since', '?')})"


def live_holder(workdir: str) -> dict | None:
  """The record of another live process holding the workdir's lock, else None."""
  record = _read(os.path.join(workdir, LOCK_FILE))
  if record is None or not _alive(record):
    return None
  mine = record["host"] == socket.gethostname() and int(record["pid"]) == os.getpid()
  return None if mine else record


class WorkdirLock:
  """Held from `acquire` to `release` (or as a context manager); `enabled=False` (processes
  other than 0 of a multi-process run) holds nothing."""

  def __init__(self, workdir: str, *, enabled: bool = True):
    self.path = os.path.join(workdir, LOCK_FILE)
    self._enabled, self._held = enabled, False

  def __enter__(self):
    self.acquire()
    return self

  def __exit__(self, *exc):
    self.release()

  def acquire(self) -> None:
    if not self._enabled:
      return
    os.makedirs(os.path.dirname(self.path), exist_ok=True)
    record = _me()
    tmp = f"{self.path}.{record['pid']}.tmp"
    with open(tmp, "w") as f:
      json.dump(record, f)
    try:
      for _ in range(3):  # a takeover raced by another starter retries
        try:
          os.link(tmp, self.path)
          self._held = True
          return
        except FileExistsError:
          self._take_over_if_stale()
      raise WorkdirLockedError(f"{self.path}: could not take the lock (other trainers keep "
                               "starting in this workdir)")
    finally:
      os.remove(tmp)

  def _take_over_if_stale(self) -> None:
    """Raises if the lock's holder lives; otherwise moves the stale lock away."""
    record = _read(self.path)
    if record is not None and _alive(record):
      raise WorkdirLockedError(
          f"{os.path.dirname(self.path)} is in use by another trainer, {describe(record)}; "
          f"stop it first (if it is gone for good, delete {self.path})")
    aside = f"{self.path}.stale.{os.getpid()}"
    try:
      os.rename(self.path, aside)  # only one of two racing starters moves a given file
    except FileNotFoundError:
      return  # another starter took it over first; try again
    if _read(aside) != record:  # a new lock appeared between reading and moving: put it back
      try:
        os.link(aside, self.path)
      except FileExistsError:
        pass
      os.remove(aside)
      return
    os.remove(aside)
    logging.warning("taking over the stale lock %s of %s (no longer running)", self.path,
                    describe(record) if record else "an unreadable record")

  def release(self) -> None:
    if self._held:
      record = _read(self.path)
      if record is not None and record["pid"] == os.getpid() \
          and record["host"] == socket.gethostname():
        os.remove(self.path)
      self._held = False
