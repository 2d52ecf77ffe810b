#!/usr/bin/python3
"""Run a command under a Docker/OCI seccomp profile, without a container engine.

    scripts/seccomp-run.py deploy/seccomp-io_uring.json -- build/tickgate --config FILE

Applies the profile the way Docker does for a container with the default capability
set (no CAP_SYS_ADMIN, CAP_SYS_PTRACE, ...) on this machine's architecture, then execs
the command. Used by tests/integration/test_deploy_files.py to check that tickgate runs,
and gets io_uring, under deploy/seccomp-io_uring.json. Needs python3-seccomp.

--without NAME[,NAME...] drops those syscalls from the profile (a negative control).
"""
import json
import os
import platform
import sys

import seccomp

# Docker's default capability set: profile entries gated on any other capability are off.
DEFAULT_CAPS = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}
ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
OPS = {"SCMP_CMP_NE": seccomp.NE, "SCMP_CMP_EQ": seccomp.EQ, "SCMP_CMP_LT": seccomp.LT,
       "SCMP_CMP_LE": seccomp.LE, "SCMP_CMP_GT": seccomp.GT, "SCMP_CMP_GE": seccomp.GE,
       "SCMP_CMP_MASKED_EQ": seccomp.MASKED_EQ}


def kernel_at_least(v):
    have = tuple(int(x) for x in platform.release().split("-")[0].split(".")[:2])
    return have >= tuple(int(x) for x in v.split(".")[:2])


def applies(rule):
    inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
    if inc.get("caps") and not set(inc["caps"]) <= DEFAULT_CAPS:
        return False
    if inc.get("arches") and ARCH not in inc["arches"]:
        return False
    if inc.get("minKernel") and not kernel_at_least(inc["minKernel"]):
        return False
    if exc.get("caps") and set(exc["caps"]) <= DEFAULT_CAPS:
        return False
    if exc.get("arches") and ARCH in exc["arches"]:
        return False
    return True


def build(profile, without=()):
    default = profile["defaultAction"]
    assert default == "SCMP_ACT_ERRNO", default
    f = seccomp.SyscallFilter(defaction=seccomp.ERRNO(profile.get("defaultErrnoRet", 1)))
    for rule in profile["syscalls"]:
        if not applies(rule):
            continue
        if rule["action"] == "SCMP_ACT_ALLOW":
            action = seccomp.ALLOW
        elif rule["action"] == "SCMP_ACT_ERRNO":
            action = seccomp.ERRNO(rule.get("errnoRet", 1))
        else:
            raise SystemExit("unsupported action %s" % rule["action"])
        args = []
        for a in rule.get("args") or []:
            if a["op"] == "SCMP_CMP_MASKED_EQ":  # OCI: value is the mask, valueTwo the datum
                args.append(seccomp.Arg(a["index"], seccomp.MASKED_EQ, a["value"], a.get("valueTwo", 0)))
            else:
                args.append(seccomp.Arg(a["index"], OPS[a["op"]], a["value"]))
        for name in rule["names"]:
            if name in without:
                continue
            try:
                seccomp.resolve_syscall(seccomp.Arch.NATIVE, name)
            except Exception:
                continue  # not a syscall of this architecture
            f.add_rule(action, name, *args)
    return f


def main(argv):
    without = set()
    if len(argv) > 2 and argv[1] == "--without":
        without = set(argv[2].split(","))
        argv = [argv[0]] + argv[3:]
    if len(argv) < 4 or argv[2] != "--":
        raise SystemExit(__doc__)
    with open(argv[1]) as fh:
        profile = json.load(fh)
    build(profile, without).load()
    os.execvp(argv[3], argv[3:])


if __name__ == "__main__":
    main(sys.argv)
