"""train.py, except that the commit of one checkpoint hangs: `python tests/hang_save.py STEP
MARKER <train.py flags>`. The save of step STEP writes all its files into orbax's temporary
directory, then touches MARKER and sleeps instead of renaming it into place, so a test can
kill -9 the trainer in the middle of that save."""

import os
import runpy
import sys
import time

from orbax.checkpoint._src.path import atomicity

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
hang_at, marker = sys.argv[1:3]
commit = atomicity.AtomicRenameTemporaryPath.finalize


async def finalize(self, *args, **kwargs):
  if self.get_final().name == hang_at:
    open(marker, "w").close()
    time.sleep(600)
  return await commit(self, *args, **kwargs)


atomicity.AtomicRenameTemporaryPath.finalize = finalize
sys.argv = [os.path.join(ROOT, "train.py"), *sys.argv[3:]]
runpy.run_path(sys.argv[0], run_name="__main__")
