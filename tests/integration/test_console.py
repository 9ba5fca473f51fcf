"""The terminal side, on both accelerators (the `accel` fixture): with stdin a
terminal, Ctrl-A x quits ember (status 0) and the terminal is restored;
SIGTERM stops the VM cleanly."""
import os
import pty
import select
import signal
import subprocess
import termios
import time

import pytest

from conftest import BUILD


def read_until(fd, needle, timeout=30):
    data = b""
    deadline = time.monotonic() + timeout
    while needle not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data += os.read(fd, 4096)
            except OSError:
                break
    return data


def start_hanging_guest(test_guests, stdin, accel):
    return subprocess.Popen(
        [str(BUILD / "ember"), "run", "--accel", accel, "--kernel", str(test_guests["bzimage"]),
         "--cmdline", "ember.test=hello ember.end=hang"],
        stdin=stdin, stdout=stdin if isinstance(stdin, int) else subprocess.PIPE,
        stderr=subprocess.PIPE)


def test_escape_sequence_quits_and_restores_terminal(test_guests, accel):
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    proc = start_hanging_guest(test_guests, slave, accel)
    try:
        assert b"EMBER-TEST hello PASS" in read_until(master, b"hello PASS")
        # Raw mode while running: ICANON and ISIG are off, so Ctrl-C is a byte for the guest.
        lflag = termios.tcgetattr(slave)[3]
        assert not lflag & termios.ISIG and not lflag & termios.ICANON
        os.write(master, b"\x03")  # Ctrl-C: goes to the guest, ember keeps running
        time.sleep(0.3)
        assert proc.poll() is None
        os.write(master, b"\x01x")  # Ctrl-A x
        assert proc.wait(timeout=10) == 0
        assert termios.tcgetattr(slave) == before
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
        os.close(slave)


def test_sigterm_stops_cleanly(test_guests, accel):
    proc = start_hanging_guest(test_guests, subprocess.DEVNULL, accel)
    try:
        time.sleep(0.5)
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert b"stopping the VM" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_stdin_reaches_the_guest_uart(test_guests, accel):
    """Host stdin -> console -> UART receive FIFO -> guest, which echoes the line."""
    proc = subprocess.Popen(
        [str(BUILD / "ember"), "run", "--accel", accel, "--kernel", str(test_guests["bzimage"]),
         "--cmdline", "ember.test=echo"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(b"typed-on-the-host\n", timeout=60)
    assert proc.returncode == 0, err
    assert b"EMBER-TEST echo PASS typed-on-the-host" in out


def test_stop_with_aps_never_started(test_guests, accel):
    """APs waiting for INIT/SIPI (inside KVM_RUN, or asleep in the software CPU's
    loop) must still be kicked and joined."""
    proc = subprocess.run(
        [str(BUILD / "ember"), "run", "--accel", accel, "--kernel", str(test_guests["pvh"]),
         "--cpus", "4",
         "--cmdline", "ember.test=hello"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert b"EMBER-TEST hello PASS" in proc.stdout
