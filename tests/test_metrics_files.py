"""Metric files in a shared directory (issue #17 item 9): created with
O_EXCL (mkstemp), mode 0600, never through a symbolic link; files of other
users and world-writable directories without the sticky bit are refused."""

from __future__ import annotations

import os
import stat

import pytest
from prometheus_client import CollectorRegistry

from fastmlops.metrics import Counter, DirectoryCollector, flush

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


def test_files_are_private_and_no_temporary_file_is_left(tmp_path):
    d = tmp_path / "m"
    Counter("priv_c", "d", registry=None, directory=str(d)).inc()
    flush()
    mode = stat.S_IMODE(os.stat(d / "priv_c.fastmlops").st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(d).st_mode) & 0o077 == 0  # made 0700 (less the umask)
    assert sorted(os.listdir(d)) == ["priv_c.fastmlops"]


def test_a_planted_symlink_is_never_followed(tmp_path):
    """The attack: another user plants links at the names we will use.  The
    old predictable temporary name and the metric file's own name both point
    at a victim file; it is neither truncated nor written."""
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    d = tmp_path / "shared"
    d.mkdir()
    for pid in range(os.getpid() - 5, os.getpid() + 5):  # the old .{pid}.{tid}.tmp names
        os.symlink(victim, d / f".{pid}.tmp")
    safe = Counter("safe_c", "d", registry=None, directory=str(d))  # tmp names: unaffected
    safe.inc()
    flush()
    assert victim.read_bytes() == b"precious"
    os.symlink(victim, d / "linked_c.fastmlops")
    with pytest.raises(ValueError, match="symbolic link"):
        Counter("linked_c", "d", registry=None, directory=str(d))
    assert victim.read_bytes() == b"precious"
    # an exporter skips the link with a warning and never reads through it
    reg = CollectorRegistry()
    DirectoryCollector(str(d), registry=reg)
    assert reg.get_sample_value("safe_c_total") == 1.0


def test_a_dangling_symlink_is_not_created_through(tmp_path):
    d = tmp_path / "shared"
    d.mkdir()
    target = tmp_path / "created_elsewhere"
    os.symlink(target, d / "dangle_c.fastmlops")
    with pytest.raises((ValueError, FileExistsError)):
        Counter("dangle_c", "d", registry=None, directory=str(d))
    assert not target.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown a file to another user")
def test_a_file_of_another_user_is_refused(tmp_path):
    d = tmp_path / "shared"
    d.mkdir()
    Counter("theirs_c", "d", registry=None, directory=str(d)).inc()
    flush()
    path = d / "theirs_c.fastmlops"
    planted = d / "planted_c.fastmlops"
    planted.write_bytes(path.read_bytes())
    os.chown(planted, 65534, 65534)
    with pytest.raises(ValueError, match="another user"):
        Counter("planted_c", "d", registry=None, directory=str(d))


def test_a_fifo_is_refused(tmp_path):
    d = tmp_path / "shared"
    d.mkdir()
    os.mkfifo(d / "fifo_c.fastmlops")
    with pytest.raises(ValueError, match="regular file"):
        Counter("fifo_c", "d", registry=None, directory=str(d))


def test_world_writable_directory_needs_the_sticky_bit(tmp_path):
    d = tmp_path / "open"
    d.mkdir()
    os.chmod(d, 0o777)
    with pytest.raises(ValueError, match="sticky"):
        Counter("ww_c", "d", registry=None, directory=str(d))
    with pytest.raises(ValueError, match="sticky"):
        DirectoryCollector(str(d), registry=None)
    os.chmod(d, 0o1777)  # like /tmp: allowed
    Counter("ww_c3", "d", registry=None, directory=str(d)).inc()
    flush()
    assert stat.S_IMODE(os.stat(d / "ww_c3.fastmlops").st_mode) == 0o600
