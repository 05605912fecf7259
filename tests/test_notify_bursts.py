"""Wake-ups in bursts: none lost to a busy process's full socket, none cut in two.

A Unix datagram socket queues only ``net.unix.max_dgram_qlen`` datagrams (10 by
default); a burst of commits used to overflow a busy receiver's queue, and each
dropped wake-up cost its waiters a re-read interval (seconds).
"""

from __future__ import annotations

import socket
import time

from uws_server.notify import DATAGRAM_BYTES, WakeBus, _datagrams, _socket_dir


def _drain(sock: socket.socket, until: float) -> set[str]:
    seen: set[str] = set()
    sock.settimeout(0.2)
    while time.monotonic() < until:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        seen |= set(data.decode("ascii").split(","))
    return seen


def test_a_burst_into_a_socket_nobody_reads_yet_arrives_whole_once_it_is_read(tmp_path):
    run = tmp_path / "run"
    sockets = _socket_dir(run)  # where the buses put their sockets (short paths)
    sockets.mkdir(parents=True, exist_ok=True)
    run.mkdir()
    busy = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    busy.bind(str(sockets / "wake-1-busy.sock"))  # a process too busy to read for a while
    publisher = WakeBus(run)
    try:
        ids = [f"job-{n}" for n in range(300)]
        for job_id in ids:  # 300 commits, far more datagrams than the queue holds
            publisher.publish({job_id})
        time.sleep(0.3)
        assert _drain(busy, time.monotonic() + 1.5) == set(ids)
    finally:
        publisher.close()
        busy.close()


def test_many_ids_go_in_several_datagrams_none_cut():
    ids = {f"{n:032x}" for n in range(5000)}  # 165 kB of job ids
    groups = list(_datagrams(ids))
    assert len(groups) > 1
    assert all(len(",".join(group)) <= DATAGRAM_BYTES for group in groups)
    assert set().union(*groups) == ids
