"""Named device placements (watches, glasses, phones, rings, straps...), the research sensor sets
(DIP-6, TransPose-6, an XSens-17-like suit), user placement files (YAML/JSON), and one entry
point, `placements_for(body, spec)`, that turns what a user types into `Placements`.

Every preset is a list of `Site`s: a landmark where the body has one (the default body's table,
the research vertices on a real SMPL mesh), else a segment rule, so every preset works on any
body with segment labels. Device axes follow common device conventions: a watch's x axis points
to 3 o'clock (toward the hand on the left wrist, the elbow on the right), a phone's y axis
along its long edge (up in a pocket, toward the fingers in the hand), z out of the skin.
Details and the file format: docs/placements.md.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from .body import Body
from .placements import Placements, dense, sample
from .sites import Site, SiteError, resolve


def _rule(segment: str, along: float, facing) -> Site:
    return Site(name="", segment=segment, along=along, facing=facing)


#: One-sided devices: Site fields with "{s}" for the side; (left, right) pairs for side-dependent
#: axes; `rule` = (segment, along, facing), the fallback where the body lacks the landmark.
_SIDED = {
    "watch": dict(landmark="{s}_wrist_dorsal", rule=("{s}_forearm", 0.88, "lateral"),
                  x_axis=("distal", "proximal"), offset_m=0.006),
    "phone_front_pocket": dict(landmark="{s}_front_pocket", rule=("{s}_thigh", 0.2, "front+lateral"), y_axis="up",
                               offset_m=0.006),
    "phone_back_pocket": dict(landmark="{s}_back_pocket", rule=("pelvis", 0.3, "back+back+{s}"), y_axis="up",
                              offset_m=0.006),
    "phone_in_hand": dict(segment="{s}_hand", along=0.4, facing="medial", y_axis="distal", offset_m=0.006),
    "ring": dict(landmark="{s}_index_base", rule=("{s}_hand", 0.5, "lateral"), x_axis="distal", offset_m=0.002),
    "upper_arm_band": dict(landmark="{s}_upper_arm_lateral", rule=("{s}_upper_arm", 0.5, "lateral"),
                           y_axis="proximal", offset_m=0.008),
    "ankle": dict(landmark="{s}_ankle_lateral", rule=("{s}_shank", 0.95, "lateral"), y_axis="up", offset_m=0.006),
    "shoe": dict(landmark="{s}_shoe_top", rule=("{s}_foot", 0.55, "up"), x_axis="distal", offset_m=0.01),
    "belt_clip": dict(landmark="{s}_hip", rule=("pelvis", 0.6, "{s}"), y_axis="up", offset_m=0.01),
}
_PAIRED = {  # both sides in one preset
    "glasses": ("glasses_{s}_temple", dict(landmark="{s}_temple", rule=("head", 0.53, "{s}"), x_axis="front",
                                           offset_m=0.004)),
    "earbuds": ("earbud_{s}", dict(landmark="{s}_ear", rule=("head", 0.42, "{s}+back"), x_axis="front",
                                   offset_m=0.008)),
}


def _on_side(name: str, spec: dict, side: str) -> Site:
    def fill(v):
        return v.format(s=side) if isinstance(v, str) else v

    fields = {}
    for key, value in spec.items():
        if key == "rule":
            value = _rule(*map(fill, value))
        elif isinstance(value, tuple):
            value = value[side == "right"]
        fields[key] = fill(value)
    return Site(fill(name), **fields)


#: Consumer devices, by preset name.
DEVICES: dict[str, list[Site]] = {
    **{f"{n}_{side}": [_on_side(f"{n}_{side}", spec, side)] for n, spec in _SIDED.items() for side in ("left", "right")},
    **{n: [_on_side(name, spec, side) for side in ("left", "right")] for n, (name, spec) in _PAIRED.items()},
    "headset": [Site("headset", segment="head", along=0.72, facing="front", x_axis="right", offset_m=0.02)],
    "chest_strap": [Site("chest_strap", landmark="chest_center", rule=_rule("torso", 0.45, "front"), y_axis="up",
                         offset_m=0.008)],
    "waist_front": [Site("waist_front", landmark="belt_front", rule=_rule("pelvis", 0.6, "front"), y_axis="up",
                         offset_m=0.01)],
    "waist_back": [Site("waist_back", landmark="belt_back", rule=_rule("pelvis", 0.6, "back"), y_axis="up",
                        offset_m=0.01)],
}


def _research_site(name, smpl_landmark, fallback: Site):
    """A research sensor: the published vertex on a real SMPL mesh, a segment rule elsewhere."""
    axis = {"x_axis": "distal"} if "wrist" in name else {"y_axis": "up"}  # a watch-like wrist unit
    return Site(name, landmark=smpl_landmark, rule=fallback, **axis)


def _six(prefix: str, landmark_prefix: str) -> list[Site]:
    sides = [(f"{s}_wrist", _rule(f"{s}_forearm", 0.88, "lateral")) for s in ("left", "right")]
    sides += [(f"{s}_knee", _rule(f"{s}_shank", 0.06, "front")) for s in ("left", "right")]
    sides += [("head", _rule("head", 0.7, "back")), ("pelvis", _rule("pelvis", 0.35, "back"))]
    return [_research_site(f"{prefix}/{n}", f"{landmark_prefix}_{n}", r) for n, r in sides]


def _xsens17() -> list[Site]:
    """Xsens MVN's 17-sensor full-body layout (head, sternum, pelvis, shoulders, upper arms,
    forearms, hands, upper legs, lower legs, feet), by segment rules."""
    out = [Site("xsens17/head", segment="head", along=0.75, facing="back", y_axis="up"),
           Site("xsens17/sternum", segment="torso", along=0.75, facing="front", y_axis="up"),
           Site("xsens17/pelvis", segment="pelvis", along=0.5, facing="back", y_axis="up")]
    for s in ("left", "right"):
        out += [Site(f"xsens17/{s}_shoulder", segment="torso", along=0.88, facing=f"back+{s}", y_axis="up"),
                Site(f"xsens17/{s}_upper_arm", segment=f"{s}_upper_arm", along=0.5, facing="lateral",
                     y_axis="proximal"),
                Site(f"xsens17/{s}_forearm", segment=f"{s}_forearm", along=0.8, facing="lateral",
                     y_axis="proximal"),
                Site(f"xsens17/{s}_hand", segment=f"{s}_hand", along=0.3, facing="lateral", x_axis="distal"),
                Site(f"xsens17/{s}_upper_leg", segment=f"{s}_thigh", along=0.5, facing="lateral", y_axis="up"),
                Site(f"xsens17/{s}_lower_leg", segment=f"{s}_shank", along=0.35, facing="front+medial",
                     y_axis="up"),
                Site(f"xsens17/{s}_foot", segment=f"{s}_foot", along=0.55, facing="up", x_axis="distal")]
    return out


#: Sensor sets of published work; on a real SMPL mesh the DIP and TransPose sets use their
#: published vertex ids (landmarks dip_* / transpose_*), elsewhere segment rules.
RESEARCH: dict[str, list[Site]] = {
    name: [replace(site, offset_m=0.006) for site in sites]  # Xsens MTw-class housing: IMU ~6 mm out
    for name, sites in (("dip6", _six("dip6", "dip")), ("transpose6", _six("transpose6", "transpose")),
                        ("xsens17", _xsens17()))
}

PRESETS: dict[str, list[Site]] = {**DEVICES, **RESEARCH}

#: The segments each preset's placements are meant to land on (tests hold every body to them).
INTENDED_SEGMENTS: dict[str, tuple[str, ...]] = {}
for _side in ("left", "right"):
    INTENDED_SEGMENTS.update({
        f"watch_{_side}": (f"{_side}_forearm", f"{_side}_hand"),
        f"phone_front_pocket_{_side}": (f"{_side}_thigh", "pelvis"),
        f"phone_back_pocket_{_side}": ("pelvis", f"{_side}_thigh"),
        f"phone_in_hand_{_side}": (f"{_side}_hand",),
        f"ring_{_side}": (f"{_side}_hand",),
        f"upper_arm_band_{_side}": (f"{_side}_upper_arm",),
        f"ankle_{_side}": (f"{_side}_shank", f"{_side}_foot"),
        f"shoe_{_side}": (f"{_side}_foot",),
        f"belt_clip_{_side}": ("pelvis", "torso"),
    })
INTENDED_SEGMENTS.update({"glasses": ("head",), "earbuds": ("head",), "headset": ("head",), "chest_strap": ("torso",),
                          "waist_front": ("pelvis", "torso"), "waist_back": ("pelvis", "torso")})


def preset_names() -> list[str]:
    return sorted(PRESETS)


def preset(body: Body, name: str) -> Placements:
    """The placements of one preset on `body`."""
    if name not in PRESETS:
        raise KeyError(f"unknown placement preset {name!r}; presets: {', '.join(preset_names())}, or 'all'")
    return _resolve_sites(body, PRESETS[name], f"preset {name!r}")


def _resolve_sites(body: Body, sites: list[Site], where: str) -> Placements:
    out = None
    for i, site in enumerate(sites):
        pl = resolve(body, site, f"{where}, placement {site.name or i!r}")
        out = pl if out is None else out + pl
    return out


# ---------------------------------------------------------------- user files

_FILE_KEYS = {"name", "landmark", "vertex", "segment", "along", "facing", "x_axis", "y_axis", "yaw_deg", "offset_m",
              "tilt_deg", "preset"}


def load_file(body: Body, path) -> Placements:
    """Placements from a YAML or JSON file: a list (or {"placements": [...]}) of entries, each one of
      {landmark: NAME} | {vertex: ID} | {segment: NAME, along: 0..1, facing: DIR} | {preset: NAME}
    with optional name, x_axis or y_axis (DIR), yaw_deg, offset_m, tilt_deg [tx, ty].
    Errors name the file, the entry and the field."""
    path = Path(path)
    entries = _read_entries(path)
    out = None
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"{path}: placements[{i}]"
        pl = _entry(body, entry, where, i)
        for n in pl.names:
            if n in seen:
                raise SiteError(f"{where}: duplicate placement name {n!r}")
            seen.add(n)
        out = pl if out is None else out + pl
    return out


def _read_entries(path: Path) -> list:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: placement file not found")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            raise SiteError(f"{path}: expected a .yaml, .yml or .json placement file")
    except (json.JSONDecodeError, ValueError) as exc:
        if isinstance(exc, SiteError):
            raise
        raise SiteError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from None
    except Exception as exc:  # yaml.YAMLError and friends
        raise SiteError(f"{path}: not valid YAML: {exc}") from None
    if isinstance(data, dict) and set(data) == {"placements"}:
        data = data["placements"]
    if not isinstance(data, list) or not data:
        raise SiteError(f"{path}: expected a non-empty list of placements (or a mapping with one key 'placements')")
    return data


def _entry(body: Body, entry, where: str, index: int) -> Placements:
    if not isinstance(entry, dict):
        raise SiteError(f"{where}: expected a mapping like {{landmark: left_wrist_dorsal}}, got {entry!r}")
    unknown = sorted(set(entry) - _FILE_KEYS)
    if unknown:
        raise SiteError(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_FILE_KEYS))}")
    if "preset" in entry:
        extra = sorted(set(entry) - {"preset"})
        if extra:
            raise SiteError(f"{where}: a preset entry takes no other fields, got {', '.join(extra)}")
        if entry["preset"] not in PRESETS:
            raise SiteError(f"{where}.preset: unknown preset {entry['preset']!r}; presets: {', '.join(preset_names())}")
        return preset(body, entry["preset"])
    if "x_axis" in entry and "y_axis" in entry:
        raise SiteError(f"{where}: give x_axis or y_axis, not both")
    kw = {"name": entry.get("name", entry.get("landmark") or f"placement_{index}")}
    for key in ("landmark", "segment"):
        if key in entry:
            if not isinstance(entry[key], str):
                raise SiteError(f"{where}.{key}: expected a name, got {entry[key]!r}")
            kw[key] = entry[key]
    if "vertex" in entry:
        kw["vertex"] = entry["vertex"]
        kw["name"] = entry.get("name", f"v{entry['vertex']}")
    for key in ("along", "yaw_deg", "offset_m"):
        if key in entry:
            kw[key] = _number(entry[key], f"{where}.{key}")
    if kw.get("offset_m", 0.0) < 0:
        raise SiteError(f"{where}.offset_m: expected >= 0 (metres out along the normal), got {kw['offset_m']}")
    if "tilt_deg" in entry:
        t = entry["tilt_deg"]
        if not (isinstance(t, list) and len(t) == 2):
            raise SiteError(f"{where}.tilt_deg: expected [tx, ty] in degrees, got {t!r}")
        kw["tilt_deg"] = tuple(_number(v, f"{where}.tilt_deg") for v in t)
    for key in ("facing", "x_axis", "y_axis"):
        if key in entry:
            kw[key] = entry[key]
    if "segment" not in kw and ("along" in kw or "facing" in kw):
        raise SiteError(f"{where}: along/facing belong to a segment entry; add segment: NAME")
    return resolve(body, Site(**kw), where)


def _number(v, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
        raise SiteError(f"{where}: expected a number, got {v!r}")
    return float(v)


# ---------------------------------------------------------------- one entry point

def placements_for(body: Body, spec: str, count: int = 2400, seed: int = 0) -> Placements:
    """What a user asks for, as Placements on `body`: 'all' (the dense set, `count` points),
    'random' (`count` random points with mounting perturbations, `seed`), a preset name, a
    comma-separated mix of those, or a path to a YAML/JSON placement file."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError("placements: expected 'all', 'random', preset names or a .yaml/.json file")
    p = Path(spec)
    if p.suffix.lower() in (".yaml", ".yml", ".json"):
        return load_file(body, p)
    out = None
    for part in (s.strip() for s in spec.split(",")):
        if part == "all":
            pl = dense(body, count=count)
        elif part == "random":
            pl = sample(body, count, seed=seed, tilt_deg=10.0, offset_m=0.005)
        else:
            pl = preset(body, part)
        out = pl if out is None else out + pl
    return out
