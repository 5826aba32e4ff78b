"""A Griffe extension for the docs: the sync facade's members, read from the running code.

``Aerostack`` and its resource classes (``SyncCache``...) get their members at import time,
derived from the async classes (``aerostack_async._sync_surface``), so reading the source finds
none. On loading the package this extension imports the facade, inspects it, and puts what it
finds into the statically loaded modules: ``Aerostack``'s resources, properties and methods
(with its full ``__init__`` signature), and the ``Sync*`` classes in ``_sync_surface``. The
API reference (``docs/reference.md``) then documents them like any other class.

Enabled in ``mkdocs.yml`` (``plugins.mkdocstrings.handlers.python.options.extensions``).
"""

from __future__ import annotations

import inspect
from typing import Any

import griffe

_PACKAGE = "aerostack_async"


class SyncSurface(griffe.Extension):
    """Adds the run-time members of the sync facade to the docs' view of the package."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """Graft the inspected facade onto the statically loaded package."""
        if pkg.name != _PACKAGE:
            return
        from aerostack_async import AsyncAerostack, _sync_surface
        from aerostack_async._sync import Aerostack

        def inspected(module: str) -> griffe.Module:
            return griffe.inspect(
                module,
                docstring_parser=loader.docstring_parser,
                docstring_options=loader.docstring_options,
            )

        _sync_surface.complete()  # every Sync* class, with its members (else built on use)
        surface = inspected(f"{_PACKAGE}._sync_surface")
        static_surface = pkg["_sync_surface"]
        for name, obj in vars(_sync_surface).items():
            if name.startswith("Sync") and inspect.isclass(obj) and name in surface.members:
                found = surface.members[name]
                for member in [m for m in found.members if m.startswith("__")]:
                    found.del_member(member)  # __doc__, __slots__... of a built class
                static_surface.set_member(name, found)
        client = inspected(f"{_PACKAGE}._sync").members["Aerostack"]
        derived = {member.name for member in _sync_surface.members(AsyncAerostack)}
        for name in vars(Aerostack):
            if name == "__init__" or (name in derived and name in client.members):
                pkg["_sync"]["Aerostack"].set_member(name, client.members[name])
