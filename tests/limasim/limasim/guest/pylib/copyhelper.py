"""scp-like copy endpoints connected by a tar stream.

    copyhelper.py send [-r] SRC...        writes a tar stream to stdout
    copyhelper.py recv [-r] DEST COUNT    reads the stream from stdin

Runs in the guest as the guest user (so ownership and permissions are the guest user's)
and on the host inside the simulator.  Messages and exit status follow scp: `scp: PATH:
reason` on stderr, exit 1 when anything failed."""

import os
import stat
import sys
import tarfile


def _msg(text):
    sys.stderr.write("scp: %s\n" % text)
    sys.stderr.flush()


def _expand(p):
    if p == "~" or p.startswith("~/"):
        return os.path.expanduser("~") + p[1:]
    return p or "."


def send(srcs, recursive, out=None, verbose=False):
    out = out or sys.stdout.buffer
    rc = 0
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, dereference=True) as tf:
        for i, src in enumerate(srcs):
            path = _expand(src)
            try:
                st = os.stat(path)
            except FileNotFoundError:
                _msg("%s: No such file or directory" % src)
                rc = 1
                continue
            except PermissionError:
                _msg("%s: Permission denied" % src)
                rc = 1
                continue
            base = os.path.basename(path.rstrip("/")) or "root"
            top = "%d/%s" % (i, base)
            if stat.S_ISDIR(st.st_mode):
                if not recursive:
                    _msg("%s: not a regular file" % src)
                    rc = 1
                    continue
                rc |= _add_tree(tf, path, top, verbose)
            elif stat.S_ISREG(st.st_mode):
                rc |= _add_file(tf, path, top, verbose)
            else:
                _msg("%s: not a regular file" % src)
                rc = 1
    return rc


def _add_file(tf, path, arc, verbose):
    try:
        with open(path, "rb") as f:
            ti = tf.gettarinfo(fileobj=f, arcname=arc)
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            if verbose:
                sys.stderr.write("Sending file modes: C%04o %d %s\n" % (ti.mode & 0o7777, ti.size,
                                                                       os.path.basename(path)))
            tf.addfile(ti, f)
        return 0
    except PermissionError:
        _msg("%s: Permission denied" % path)
        return 1
    except OSError as e:
        _msg("%s: %s" % (path, e.strerror))
        return 1


def _add_tree(tf, path, arc, verbose):
    rc = 0
    try:
        st = os.stat(path)
        ti = tarfile.TarInfo(arc)
        ti.type = tarfile.DIRTYPE
        ti.mode = st.st_mode & 0o7777
        ti.mtime = int(st.st_mtime)
        tf.addfile(ti)
        if verbose:
            sys.stderr.write("Entering directory: D%04o 0 %s\n" % (ti.mode, os.path.basename(path)))
        names = sorted(os.listdir(path))
    except PermissionError:
        _msg("%s: Permission denied" % path)
        return 1
    for n in names:
        p = os.path.join(path, n)
        try:
            st = os.stat(p)
        except OSError:
            _msg("%s: No such file or directory" % p)
            rc = 1
            continue
        if stat.S_ISDIR(st.st_mode):
            rc |= _add_tree(tf, p, arc + "/" + n, verbose)
        elif stat.S_ISREG(st.st_mode):
            rc |= _add_file(tf, p, arc + "/" + n, verbose)
        else:
            _msg("%s: not a regular file" % p)
            rc = 1
    return rc


def recv(dest, count, inp=None):
    inp = inp or sys.stdin.buffer
    dest_x = _expand(dest)
    umask = os.umask(0)
    os.umask(umask)
    dest_is_dir = os.path.isdir(dest_x)
    rc = 0
    if count > 1 and not dest_is_dir:
        _msg("%s: %s" % (dest, "Not a directory" if os.path.exists(dest_x) else "No such file or directory"))
        _drain(inp)
        return 1
    if not dest_is_dir:
        parent = os.path.dirname(dest_x.rstrip("/")) or "."
        if not os.path.isdir(parent):
            _msg("%s: No such file or directory" % dest)
            _drain(inp)
            return 1
    bad_tops = set()
    try:
        tf = tarfile.open(fileobj=inp, mode="r|")
    except tarfile.ReadError:
        return 1  # the sender failed before sending anything (it reported why)
    with tf:
        for ti in tf:
            parts = ti.name.split("/")
            if len(parts) < 2 or ".." in parts:
                continue
            top = "/".join(parts[:2])
            if top in bad_tops:
                continue
            base = os.path.join(dest_x, parts[1]) if dest_is_dir else dest_x
            target = os.path.join(base, *parts[2:]) if len(parts) > 2 else base
            try:
                if ti.isdir():
                    if os.path.exists(target) and not os.path.isdir(target):
                        _msg("%s: Not a directory" % target)
                        bad_tops.add(top)
                        rc = 1
                        continue
                    if not os.path.isdir(target):
                        os.mkdir(target, (ti.mode | 0o700) & 0o7777)
                elif ti.isfile():
                    if os.path.isdir(target):
                        _msg("%s: Is a directory" % target)
                        rc = 1
                        continue
                    existed = os.path.exists(target)
                    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, (ti.mode | 0o200) & 0o777)
                    try:
                        src = tf.extractfile(ti)
                        while True:
                            chunk = src.read(1 << 16)
                            if not chunk:
                                break
                            os.write(fd, chunk)
                        if not existed:
                            os.fchmod(fd, ti.mode & 0o777 & ~umask)
                    finally:
                        os.close(fd)
            except PermissionError:
                _msg("%s: Permission denied" % target)
                rc = 1
            except OSError as e:
                _msg("%s: %s" % (target, e.strerror))
                rc = 1
    return rc


def _drain(inp):
    while inp.read(1 << 16):
        pass


def main(argv):
    if not argv:
        sys.stderr.write(__doc__)
        return 2
    mode, rest = argv[0], argv[1:]
    recursive = "-r" in rest
    verbose = "-v" in rest
    rest = [a for a in rest if a not in ("-r", "-v")]
    if mode == "send":
        return send(rest, recursive, verbose=verbose)
    if mode == "recv":
        return recv(rest[0], int(rest[1]))
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
