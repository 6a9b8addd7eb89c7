"""Channel adapters by channel name: `civicpush.delivery.providers.<channel>.make_adapter()`.

One adapter per channel and process (adapters hold persistent connections and cached tokens; the
fan-out drives them from one long-lived event loop per process, see `fanout.run_async`)."""

from __future__ import annotations

import importlib

from .base import ChannelAdapter

CHANNELS = ("webpush", "fcm", "apns", "sms", "email")
_adapters: dict[str, ChannelAdapter] = {}


class AdapterUnavailable(LookupError):
    """No adapter module for this channel (not installed or not written yet)."""


def get_adapter(channel: str) -> ChannelAdapter:
    adapter = _adapters.get(channel)
    if adapter is not None:
        return adapter
    if channel not in CHANNELS:
        raise AdapterUnavailable(f"unknown delivery channel {channel!r}")
    try:
        module = importlib.import_module(f"civicpush.delivery.providers.{channel}")
    except ModuleNotFoundError as exc:
        if exc.name != f"civicpush.delivery.providers.{channel}":
            raise
        raise AdapterUnavailable(
            f"no adapter for the {channel!r} channel (civicpush/delivery/providers/{channel}.py is missing)"
        ) from exc
    adapter = module.make_adapter()
    _adapters[channel] = adapter
    return adapter


def reset_adapters() -> None:
    """Forget cached adapters (tests that change settings; after fork)."""
    _adapters.clear()
