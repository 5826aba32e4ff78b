"""Emulator routes: queue (being written)."""

from __future__ import annotations

from .._app import RouteModule

MODULE = RouteModule(operations=[])
