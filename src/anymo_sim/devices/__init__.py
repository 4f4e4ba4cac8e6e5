"""Device response models: ideal readings -> what a real watch, phone, glasses or suit sensor
records (rate, noise, bias drift, scale, cross-axis, range, ADC, clock, magnetometer, strap).
Definitions and datasheet sources: docs/devices.md."""

from .analysis import allan_deviation, export
from .model import DeviceReadings, apply_device
from .params import DeviceParams, SensorModel, load_preset, mix, preset_names, randomize

__all__ = ["DeviceParams", "DeviceReadings", "SensorModel", "allan_deviation", "apply_device", "export",
           "load_preset", "mix", "preset_names", "randomize"]
