"""Bake the DeepMimic humanoid clips shipped in pybullet_data into src/anymo_sim/data/builtin_motions.npz.

    pip download pybullet==3.2.7 --no-deps -d /tmp/pb
    python scripts/bake_builtin_motions.py /tmp/pb/pybullet-3.2.7-*.whl   # or a pybullet_data folder

Reads pybullet_data/data/motions/humanoid3d_*.txt and pybullet_data/humanoid/humanoid.urdf
straight from the wheel (zip) or folder; pybullet itself is never imported. Checks that the
URDF's joint origins are the ones anymo_sim.motion.deepmimic.HUMANOID uses, that every clip
parses, and stores the raw frame rows (float32) and loop flags. Output is reproducible.
"""

from __future__ import annotations

import io
import re
import sys
import zipfile
from pathlib import Path

import numpy as np

from anymo_sim.motion.deepmimic import HUMANOID, frames_to_motion, parse_clip

OUT = Path(__file__).resolve().parents[1] / "src" / "anymo_sim" / "data" / "builtin_motions.npz"


def reader(src: Path):
    if src.is_file() and src.suffix == ".whl":
        z = zipfile.ZipFile(src)
        names = z.namelist()
        return names, lambda n: z.read(n).decode()
    root = src.parent if src.name == "pybullet_data" else src
    names = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
    return names, lambda n: (root / n).read_text()


def check_urdf(text: str) -> None:
    origins = dict(re.findall(r'<joint name="(\w+)"[^>]*>.*?<origin rpy = "0 0 0" xyz = "([^"]+)"', text, flags=re.S))
    for name, parent, off in HUMANOID:
        if name in origins:
            got = np.array([float(v) for v in origins[name].split()])
            if not np.allclose(got, off, atol=1e-6):
                sys.exit(f"humanoid.urdf: joint {name} origin {got} differs from HUMANOID's {off}")
    wrists = [n for n in ("right_wrist", "left_wrist") if n not in origins]
    if wrists:
        sys.exit(f"humanoid.urdf: joints {wrists} not found")
    print(f"humanoid.urdf: {len(origins)} joint origins match the HUMANOID table")


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    names, read = reader(Path(argv[1]))
    urdf = [n for n in names if n.endswith("pybullet_data/humanoid/humanoid.urdf") or n == "humanoid/humanoid.urdf"]
    if not urdf:
        sys.exit("humanoid/humanoid.urdf not found")
    check_urdf(read(urdf[0]))
    clips = sorted(n for n in names if re.search(r"data/motions/humanoid3d_\w+\.txt$", n))
    if not clips:
        sys.exit("no data/motions/humanoid3d_*.txt found")
    arrays, clip_names, loops = {}, [], []
    for path in clips:
        frames, loop = parse_clip(read(path), path)
        name = Path(path).stem.removeprefix("humanoid3d_")
        m = frames_to_motion(frames, name=name, loop=loop, source=path)  # validates
        print(f"{name:16s} {m.n_frames:4d} frames {m.fps:6.2f} Hz {m.duration:5.2f} s loop={loop}")
        arrays[f"frames_{name}"] = frames.astype(np.float32)
        clip_names.append(name)
        loops.append(loop)
    buf = io.BytesIO()
    np.savez_compressed(buf, names=np.array(clip_names), loop=np.array(loops), **arrays)
    OUT.write_bytes(buf.getvalue())
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB, {len(clip_names)} clips)")


if __name__ == "__main__":
    main(sys.argv)
