"""``python refuse_wx.py PROGRAM ARGS...``: run PROGRAM with write+execute memory refused.

``prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN)`` (Linux 6.3+) makes the kernel refuse any mapping
that is, or later becomes, both writable and executable, for this process and what it execs:
what systemd's ``MemoryDenyWriteExecute=yes`` enforces with seccomp. Exit 1 if unsupported.
"""

from __future__ import annotations

import ctypes
import os
import sys

PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1


def main() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        sys.exit(f"prctl(PR_SET_MDWE): {os.strerror(ctypes.get_errno())}")
    os.execv(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
