"""Motions: the `Motion` type, readers (Nymeria, AMASS, BVH, DeepMimic), retargeting onto a
Body's rig, resampling and augmentation. Built-in clips and `load()`: anymo_sim.motions."""

from .retarget import Retargeted, joint_map, retarget
from .types import Motion, MotionError, TextSpan

__all__ = ["Motion", "MotionError", "TextSpan", "Retargeted", "joint_map", "retarget"]
