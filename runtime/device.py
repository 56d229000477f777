"""Choosing the training device and naming it for people.

``resolve_device("auto")`` picks CUDA, then Apple MPS, then the CPU. Asking for a device that is
not there is a :class:`DeviceError` with a message saying what is available, never a torch trace.
"""

from __future__ import annotations

import torch

from .errors import DeviceError

CHOICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(name: str | None = "auto") -> torch.device:
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError("CUDA was requested but no CUDA device is available "
                              f"(torch {torch.__version__}); use --device cpu or auto")
        return torch.device("cuda")
    if name == "mps":
        if not _mps_available():
            raise DeviceError("Apple MPS was requested but is not available; use --device cpu or auto")
        return torch.device("mps")
    raise DeviceError(f"unknown device {name!r}; choose one of {', '.join(CHOICES)}")


def device_name(device: torch.device) -> str:
    """``"CPU"``, ``"CUDA: NVIDIA H100 80GB HBM3"`` or ``"MPS"``."""
    if device.type == "cuda":
        return "CUDA: " + torch.cuda.get_device_name(device)
    return device.type.upper()


def synchronize(device: torch.device) -> None:
    """Wait for queued work on an asynchronous device (timings); a no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
