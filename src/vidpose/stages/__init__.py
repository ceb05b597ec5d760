"""The stages of the run pipeline, one module per kind, and the registries of the selectable ones.

``vidpose.pipeline.build_stages`` composes estimate -> track -> refine stages (in
the order given) -> lift -> convert. A stage is a class with ``name``,
``process(frame) -> [frames]`` and ``finish() -> [frames]`` (:class:`Stage`).
``REFINERS`` and ``LIFTERS`` are plain dicts name -> :class:`StageChoice`;
``--refine``/``--lift`` and the Python API's ``refine=``/``lift=`` pick from
them (``none`` is a choice; ``auto`` picks what the model can feed).
"""

from __future__ import annotations

from vidpose.errors import InputError
from vidpose.stages.base import OUTPUTS, Stage, StageChoice, missing_outputs
from vidpose.stages.convert import ConvertStage
from vidpose.stages.estimate import BLAZEPOSE_MODELS, EstimateStage, ModelChoice, build_estimator, model_choice
from vidpose.stages.lift import CHECKPOINT_LIFTERS, LIFTERS, BlazePoseLift, LiftStage
from vidpose.stages.refine import REFINERS, RefineStage
from vidpose.stages.track import TrackStage


def parse_refine(value: str) -> list[str] | None:
    """``--refine`` -> the names in order ([] for ``none``; None for ``auto``); InputError for unknown names."""
    names = [n.strip() for n in str(value).split(",")]
    if names == ["auto"]:
        return None
    if names == ["none"]:
        return []
    choices = "auto, " + ", ".join(REFINERS)
    for n in names:
        if n not in REFINERS or n == "none":
            what = "'none' cannot be combined with other stages" if n == "none" else f"unknown stage {n!r}"
            raise InputError(f"--refine {value!r}: {what}; choose auto, none or a comma-separated list of: {choices}")
    if len(set(names)) != len(names):
        raise InputError(f"--refine {value!r}: a stage is named twice")
    return names


def parse_lift(value: str) -> str | None:
    """``--lift`` -> the name (None for ``auto``); InputError for unknown names."""
    if value == "auto":
        return None
    if value not in LIFTERS:
        raise InputError(f"--lift {value!r}: unknown stage; choose one of: auto, {', '.join(LIFTERS)}")
    return value


# What ``--refine auto`` runs: the best offline refinement for files (a few frames of delay),
# the best online one for live sources and vidpose.stream (no delay); see docs/flowing.md.
AUTO_REFINE = {"offline": "flow-offline", "online": "flow-online"}
# What ``--lift auto`` runs for the BlazePose models: for files DG-Net on each track's 2D, low-passed
# (H36M-17 3D; on the synth-single test videos of `vidpose bench dgnet` it beats the world landmarks,
# per frame and low-passed, on P-MPJPE and MPJVE: docs/lifting.md); for live sources BlazePose's world
# landmarks through the One-Euro filter (no delay). None for other models (2D only unless named).
AUTO_LIFT = {"offline": "dgnet-smooth", "online": "blazepose-online"}


# Output skeletons whose users ask for joints DG-Net's H36M-17 3D cannot give (BlazePose-33's hands and
# feet: heel and toe markers for OpenSim, say): for them ``--lift auto`` keeps BlazePose's own 3D for files.
KEEP_WORLD_3D = ("blazepose33",)


def plan(refine: str, lift: str, model: ModelChoice, live: bool = False, skeleton: str = "coco17") -> dict:
    """Which refine and lift stages run for ``model``, and why the skipped ones do not.

    ``auto`` picks the best stage the model can feed (refine: ``AUTO_REFINE``, lift:
    ``AUTO_LIFT`` for the BlazePose models, ``blazepose-smooth`` for files when the output
    ``skeleton`` is one of ``KEEP_WORLD_3D``; the online ones for ``live`` sources; ``none`` where the
    model cannot feed it). A stage named explicitly that needs outputs the model does not
    give is an InputError.
    """
    skipped: list[dict] = []

    def best(kind: str, registry: dict[str, StageChoice], table: dict[str, str]) -> str:
        name = table["online" if live else "offline"]
        missing = missing_outputs(registry[name], model.provides)
        if not missing:
            return name
        skipped.append({"stage": kind, "choice": name,
                        "reason": f"model {model.spec!r} does not give {' or '.join(missing)}"})
        return "none"

    refine_names = parse_refine(refine)
    if refine_names is None:
        name = best("refine", REFINERS, AUTO_REFINE)
        refine_names = [] if name == "none" else [name]
    lift_name = parse_lift(lift)
    if lift_name is None:
        choice = AUTO_LIFT["online" if live else "offline"]
        if not model.is_blazepose:
            lift_name, reason = "none", (f"--lift auto lifts the BlazePose models' output only; name --lift dgnet "
                                         f"or dgnet-smooth to lift model {model.spec!r}'s 2D")
        elif not live and skeleton in KEEP_WORLD_3D:
            lift_name, reason = "blazepose-smooth", (f"--skeleton {skeleton}: DG-Net's H36M-17 3D has no hands, "
                                                     "feet or face points, so --lift auto keeps BlazePose's own 3D "
                                                     "(blazepose-smooth)")
        else:
            lift_name, reason = best("lift", LIFTERS, AUTO_LIFT), None
        if reason:
            skipped.append({"stage": "lift", "choice": choice, "reason": reason})
    for flag, names, registry in (("--refine", refine_names, REFINERS), ("--lift", [lift_name], LIFTERS)):
        for n in names:
            missing = missing_outputs(registry[n], model.provides)
            if missing:
                raise InputError(
                    f"{flag} {n} needs {' and '.join(missing)}, which model {model.spec!r} does not give "
                    f"(BlazePose models only: {', '.join(BLAZEPOSE_MODELS)}); "
                    f"use {flag} none or a BlazePose --model"
                )
    needs = set().union(*(REFINERS[n].needs for n in refine_names)) if refine_names else set()
    return {
        "refine": refine_names,
        "lift": lift_name,
        "skipped": skipped,
        "keep_heatmaps": bool(needs & {"heatmaps", "blazepose_heatmaps"}),
    }


__all__ = [
    "OUTPUTS", "Stage", "StageChoice", "EstimateStage", "TrackStage", "RefineStage", "LiftStage",
    "BlazePoseLift", "ConvertStage", "REFINERS", "LIFTERS", "ModelChoice", "model_choice",
    "build_estimator", "parse_refine", "parse_lift", "plan", "AUTO_REFINE", "AUTO_LIFT", "KEEP_WORLD_3D",
    "CHECKPOINT_LIFTERS",
]
