# scripts/bench-lib.sh - helpers shared by the benchmark scripts (sourced, not run).

# make_ws DIR NFILES: a workspace of NFILES one-line files, 1,000 per directory.
make_ws() {
    python3 - "$1" "$2" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // 1000))
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%06d.txt" % i), "w") as f:
        f.write("line %d\n" % i)
PY
}

# fresh_ext4 IMG MNT: a new 8 GiB journaled ext4 image IMG, mounted on MNT.
fresh_ext4() {
    truncate -s 8G "$1"
    mkfs.ext4 -q -F "$1"
    mount -o loop "$1" "$2"
}
