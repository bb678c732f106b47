"""C-simulation libraries: g++ builds with the objects compiled in parallel, cached by content.

A library is keyed by the compiler's version, the flags, and the bytes of every source and of every
file in the include folders (by their paths relative to the project), so the same project built
anywhere, twice, or for the network and then the whole trigger, runs g++ once.  The cache lives in
`$CODESIGN_CACHE/csim` (see `codesign.cache`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from codesign import proc
from codesign.cache import cache_dir
from codesign.errors import CodesignError, first_error_line

CXX = "g++"
FLAGS = ("-O2", "-std=c++14", "-fPIC", "-fno-gnu-unique")


@functools.cache
def compiler_version() -> str:
    """`g++ --version`'s first line; a missing compiler is a one-line error naming the fix."""
    try:
        run = subprocess.run([CXX, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as err:
        raise CodesignError(f"{CXX} is needed for the C-simulation and did not run ({err}); "
                            "install it (Debian/Ubuntu: apt install g++ make)") from None
    return run.stdout.splitlines()[0]


def library_key(root: Path, sources: Sequence[Path], includes: Sequence[Path]) -> str:
    """Hash of the compiler, the flags and the content of the sources and of every file in `includes`."""
    root = Path(root).absolute()
    files = {Path(s).absolute() for s in sources}
    for folder in includes:
        files.update(p for p in Path(folder).absolute().rglob("*") if p.is_file() and p.suffix not in (".so", ".o"))
    relative = [str(Path(p).absolute().relative_to(root)) for p in (*sources, *includes)]
    digest = hashlib.sha256(f"{compiler_version()}|{' '.join(FLAGS)}|{relative}|{len(sources)}".encode())
    for path in sorted(files):
        digest.update(f"\0{path.relative_to(root)}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def build_library(root: Path, sources: Sequence[Path], includes: Sequence[Path], output: Path) -> bool:
    """Compile `sources` (files under `root`) into the shared library `output`.

    Returns True when the library came from the cache.  Objects compile in parallel (one g++ per source,
    as many at a time as there are cores); the library holds no build path (`-ffile-prefix-map`).
    """
    root = Path(root).absolute()
    key = library_key(root, sources, includes)
    cached = cache_dir("csim") / f"{key}.so"
    hit = cached.is_file()
    if not hit:
        with tempfile.TemporaryDirectory(prefix="codesign-csim-") as tmp:
            _compile(root, sources, includes, Path(tmp), cached)
    part = output.with_name(f".{output.name}.{os.getpid()}")
    shutil.copyfile(cached, part)
    os.replace(part, output)
    return hit


def _compile(root: Path, sources: Sequence[Path], includes: Sequence[Path], tmp: Path, cached: Path) -> None:
    flags = [*FLAGS, f"-ffile-prefix-map={root}=.", *(f"-I{Path(i).absolute()}" for i in includes)]
    objects = [tmp / f"{i}.o" for i in range(len(sources))]
    commands = [[CXX, *flags, "-c", str(Path(s).absolute()), "-o", str(o)] for s, o in zip(sources, objects)]
    run = functools.partial(proc.run, cwd=root)  # g++ dies with codesign (see codesign.proc)
    with ThreadPoolExecutor(min(len(commands), len(os.sched_getaffinity(0)))) as pool:
        runs = list(pool.map(run, commands))
    if all(r.returncode == 0 for r in runs):
        runs.append(run([CXX, *flags, "-shared", *map(str, objects), "-o", str(tmp / "lib.so")]))
    failed = next((r for r in runs if r.returncode != 0), None)
    if failed is not None:
        raise CodesignError(f"the C-simulation in {root} did not compile: {first_error_line(failed.stderr)}")
    part = cached.with_name(f".{cached.name}.{os.getpid()}")
    shutil.copyfile(tmp / "lib.so", part)
    os.replace(part, cached)  # complete or absent, also with two builds of the same key at once
