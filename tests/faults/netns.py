"""Network namespaces, veth links and iptables chains for the simulated hosts (root only).

Every object a run creates carries its run id, so runs side by side never meet and a crashed
run's leftovers can be found: netns `nrh-<run>-<index>`, veth ends `nr<run><index>r` (root
side) and `nr<run><index>h` (in the netns), and /etc/netns/<netns>/ (which `ip netns exec`
mounts over /etc: a hosts file naming the host, a resolv.conf that fails at once).

A live run holds an flock on STATE_DIR/<run>.lock (the kernel drops it when the process dies,
however it dies); `Run()` first removes everything of runs whose lock nobody holds. Each host
gets a /30 from 10.231.0.0/16, the lowest free one on this machine, picked and configured
under one machine-wide lock: concurrent runs never share a subnet or a name.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import re
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

STATE_DIR = Path("/run/notify-relay-hosts")
ETC_NETNS = Path("/etc/netns")
POOL = ipaddress.IPv4Network("10.231.0.0/16")
CMD_TIMEOUT_S = 15.0
NETNS_RE = re.compile(r"^nrh-([0-9a-f]{6})-\w+$")
LINK_RE = re.compile(r"^nr([0-9a-f]{6})\w+[rh]$")
#: Inside every host: the faults' chains first, then only loopback and the harness's own
#: subnets may be reached (the test policy: no other interface, whatever a process tries).
RULES = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:nr-in - [0:0]
:nr-out - [0:0]
-A INPUT -j nr-in
-A OUTPUT -j nr-out
-A OUTPUT -o lo -j ACCEPT
-A OUTPUT -d {pool} -j ACCEPT
-A OUTPUT -j REJECT
COMMIT
"""


class NetnsError(RuntimeError):
    pass


def sh(*argv: str, check: bool = True, stdin: str | None = None) -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                          timeout=CMD_TIMEOUT_S)
    if check and done.returncode != 0:
        raise NetnsError(f"`{' '.join(argv)}` failed ({done.returncode}): "
                         f"{done.stderr.strip()}")
    return done.stdout


@contextmanager
def machine_lock() -> Iterator[None]:
    """Held while names and addresses are checked and taken, by any run on this machine."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with (STATE_DIR / "machine.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@dataclass(frozen=True)
class Link:
    """One host's namespace and its veth pair, with a /30 on it."""

    netns: str
    root_if: str
    host_if: str
    gateway: str  # the root side: where the host reaches the machine's services
    address: str  # the host side

    def setup(self, hostname: str) -> None:
        sh("ip", "netns", "add", self.netns)
        # The peer is born inside the netns: a crash here leaves nothing in the root one.
        sh("ip", "link", "add", self.root_if, "type", "veth", "peer", "name", self.host_if,
           "netns", self.netns)
        sh("ip", "addr", "add", f"{self.gateway}/30", "dev", self.root_if)
        sh("ip", "link", "set", self.root_if, "up")
        inside = ("ip", "-n", self.netns)
        sh(*inside, "addr", "add", f"{self.address}/30", "dev", self.host_if)
        sh(*inside, "link", "set", "lo", "up")
        sh(*inside, "link", "set", self.host_if, "up")
        sh(*inside, "route", "add", "default", "via", self.gateway)
        etc = ETC_NETNS / self.netns
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "hosts").write_text(f"127.0.0.1 localhost\n{self.address} {hostname}\n")
        # Nothing answers on port 53 in there: a lookup fails at once, never times out.
        (etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        self.iptables_restore(RULES.format(pool=POOL))

    def iptables_restore(self, rules: str) -> None:
        sh("ip", "netns", "exec", self.netns, "iptables-restore", stdin=rules)

    def iptables(self, *rule: str, check: bool = True) -> bool:
        argv = ("ip", "netns", "exec", self.netns, "iptables", "-w", *rule)
        return subprocess.run(argv, capture_output=True, timeout=CMD_TIMEOUT_S,
                              check=check).returncode == 0

    def drop(self, rules: list[tuple[str, ...]]) -> None:
        """Append `chain match... -j DROP` for each rule not there yet.

        DROP, not REJECT: a partition answers nothing; connections hang until a timeout.
        """
        for chain, *match in rules:
            if not self.iptables("-C", chain, *match, "-j", "DROP", check=False):
                self.iptables("-A", chain, *match, "-j", "DROP")

    def undrop(self, rules: list[tuple[str, ...]]) -> None:
        for chain, *match in rules:
            while self.iptables("-D", chain, *match, "-j", "DROP", check=False):
                pass

    def netns_inode(self) -> int:
        return os.stat(f"/run/netns/{self.netns}").st_ino


def remove(netns: str, root_if: str | None) -> None:
    """Kill what still runs in `netns`, then remove it, its link and its /etc files."""
    if Path(f"/run/netns/{netns}").exists():
        for pid in sh("ip", "netns", "pids", netns, check=False).split():
            with suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        sh("ip", "netns", "del", netns, check=False)
    if root_if:  # deleting one end of a veth deletes both
        sh("ip", "link", "del", root_if, check=False)
    shutil.rmtree(ETC_NETNS / netns, ignore_errors=True)


def ours(run_id: str | None = None) -> dict[str, list[str]]:
    """The namespaces and links that carry a run id (`run_id`'s, or any run's)."""
    namespaces = [line.split()[0] for line in sh("ip", "netns", "list").splitlines() if line]
    links = [m.group(1).split("@")[0] for m in
             re.finditer(r"^\d+: (\S+):", sh("ip", "-o", "link", "show"), re.M)]
    wanted = {run_id} if run_id else None
    return {"netns": [n for n in namespaces if _of(run_of(n), wanted)],
            "links": [x for x in links if _of(run_of(x), wanted)]}


def _of(run: str | None, wanted: set[str] | None) -> bool:
    return run is not None and (wanted is None or run in wanted)


def used_subnets() -> list[ipaddress.IPv4Network]:
    out = sh("ip", "-o", "-4", "addr", "show")
    nets = [ipaddress.IPv4Interface(m).network for m in re.findall(r"inet (\S+)", out)]
    return [n for n in nets if n.overlaps(POOL)]


def unavailable() -> str | None:
    """Why this machine cannot have simulated hosts, or None (the cheap checks)."""
    if os.geteuid() != 0:
        return "not root (namespaces, veths and iptables need CAP_SYS_ADMIN, CAP_NET_ADMIN)"
    missing = [t for t in ("ip", "iptables", "iptables-restore") if shutil.which(t) is None]
    if missing:
        return f"{', '.join(missing)} not installed (scripts/bootstrap.sh installs them)"
    return None


class Run:
    """This process's run: its id, the lock that says it is alive, and its hosts' links."""

    def __init__(self) -> None:
        self.id = secrets.token_hex(3)
        with machine_lock():
            self.swept = sweep_stale()
            self._lock: IO[str] = (STATE_DIR / f"{self.id}.lock").open("w")
            fcntl.flock(self._lock, fcntl.LOCK_EX)  # until this process exits

    def release(self) -> None:
        """At exit, once this run's hosts are gone (a crash leaves it to the next sweep)."""
        (STATE_DIR / f"{self.id}.lock").unlink(missing_ok=True)
        self._lock.close()

    def create(self, index: str, hostname: str) -> Link:
        """A new namespace and link on the lowest free /30 (removed again if setup fails)."""
        with machine_lock():
            link = self._next_link(index)
            try:
                link.setup(hostname)
            except BaseException:
                remove(link.netns, link.root_if)
                raise
            return link

    def _next_link(self, index: str) -> Link:
        used = used_subnets()
        for subnet in POOL.subnets(new_prefix=30):
            if not any(subnet.overlaps(net) for net in used):
                gateway, address = (str(a) for a in list(subnet.hosts())[:2])
                return Link(f"nrh-{self.id}-{index}", f"nr{self.id}{index}r",
                            f"nr{self.id}{index}h", gateway, address)
        raise NetnsError(f"no free /30 left in {POOL}")


def live_runs() -> set[str]:
    """Ids of the runs whose lock is held; the lock files of dead ones are removed."""
    live = set()
    for lock in STATE_DIR.glob("*.lock"):
        if lock.name == "machine.lock":
            continue
        with lock.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                live.add(lock.stem)
                continue
        lock.unlink(missing_ok=True)
    return live


def run_of(name: str) -> str | None:
    match = NETNS_RE.match(name) or LINK_RE.match(name)
    return match.group(1) if match else None


def sweep_stale() -> list[str]:
    """Remove what dead runs left (call under `machine_lock()`); the names removed."""
    live = live_runs()
    left = ours()
    stale = [n for n in left["netns"] if run_of(n) not in live]
    for netns in stale:
        remove(netns, None)
    for link in left["links"]:
        if run_of(link) not in live:
            sh("ip", "link", "del", link, check=False)
            stale.append(link)
    for etc in ETC_NETNS.glob("nrh-*") if ETC_NETNS.exists() else []:
        if run_of(etc.name) not in live:
            shutil.rmtree(etc, ignore_errors=True)
    return stale
