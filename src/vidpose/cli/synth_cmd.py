"""``vidpose synth``: write synthetic clips with exact ground truth (see docs/synthetic.md)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--split", required=True, help="synth-single, synth-crowd or synth-3d")
    p.add_argument("--subset", default="all", choices=["train", "val", "test", "all"],
                   help="which subset to write (default: all three)")
    p.add_argument("--clips", type=int, default=None, help="clips per subset (default: the split's size)")
    p.add_argument("--frames", type=int, default=None, help="frames per clip (default: the split's length)")
    p.add_argument("--seed", type=int, default=0, help="base seed; each clip derives its own (default 0)")
    p.add_argument("--flow", action="store_true", help="also write ground-truth optical flow flow/NNNNNN.npy")
    p.add_argument("--video", action="store_true", help="write video.mp4 (H.264) instead of JPEG frames")
    p.add_argument("--renderer", type=int, default=None, choices=[2, 3],
                   help="3: skinned Anny bodies rasterised with OpenGL (needs the synth extra and EGL; writes "
                        "person masks); 2: capsule bodies drawn with OpenCV. Default: the split's (3 for "
                        "synth-single and synth-crowd, 2 for synth-3d)")
    p.add_argument("--backgrounds", default=None, choices=["procedural", "photo", "mixed"],
                   help="ground and wall textures: procedural (default; noise, tiles, stripes), photo (real "
                        "photographs that ship in scikit-image, in the synth extra), or mixed (each clip draws "
                        "one of the two); annotations.json records a non-default choice under 'background'")
    p.add_argument("--contact-sheet", metavar="IMAGE", default=None,
                   help="also write a grid of one frame per written clip to IMAGE (.png or .jpg)")
    p.add_argument("--out", required=True, help="output folder; clips go to OUT/SPLIT/SUBSET/CLIP/")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vidpose.data.synth import SUBSETS, generate_split
    from vidpose.progress import Progress

    if args.contact_sheet and Path(args.contact_sheet).suffix.lower() not in (".png", ".jpg", ".jpeg"):
        from vidpose.errors import InputError

        raise InputError(f"--contact-sheet: {args.contact_sheet} must end in .png or .jpg")
    if args.contact_sheet:  # checked before hours of rendering, not after
        from vidpose.errors import InputError

        sheet = Path(args.contact_sheet)
        if sheet.is_dir():
            raise InputError(f"--contact-sheet: {sheet} is a folder, expected an image file name")
        if not sheet.parent.is_dir():
            raise InputError(f"--contact-sheet: {sheet}: folder {sheet.parent} does not exist")
    bars: dict[str, Progress] = {}

    def progress(sub: str, k: int, n: int) -> None:
        bar = bars.setdefault(sub, Progress(n, f"{args.split}/{sub} clips"))
        bar.update(k - bar.n)
        if k >= n:
            bar.close()

    stats = generate_split(args.split, args.out, subset=args.subset, clips=args.clips, frames=args.frames,
                           seed=args.seed, flow=args.flow, video=args.video, progress=progress,
                           renderer=args.renderer, backgrounds=args.backgrounds)
    for s in stats:
        print(f"{s.split}/{s.subset}: {s.clips} clips, {s.frames} frames, {s.fps:.1f} frames/s, "
              f"occluded joints {100 * s.occluded_fraction:.1f}%")
    if args.contact_sheet:
        from vidpose.data.synth.sheet import contact_sheet

        subsets = SUBSETS if args.subset == "all" else (args.subset,)
        dirs = [Path(args.out) / s.split / sub / f"{sub}_{k:05d}" for s in stats for sub in subsets
                if sub == s.subset for k in range(s.clips)]
        print(f"contact sheet: {contact_sheet(dirs, args.contact_sheet)}")
    return 0
