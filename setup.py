"""Build hook: the wheel carries the top-level ``schemas/`` as ``uws_server/schemas/``.

The canonical schemas (UWS 1.1 XSD, xlink, Seed 1.0.0, each with its provenance README)
live at the top of the checkout, verbatim. A built package cannot reach them there, so
``build_py`` copies the whole tree into the package in the build directory, never into the
source tree. Editable installs skip the copy: they run from the checkout, where
``schemas/`` is. Everything else about the package is in ``setup.cfg``.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SCHEMAS = Path(__file__).resolve().parent / "schemas"


class BuildPyWithSchemas(build_py):
    """``build_py`` that also copies ``schemas/`` to ``<build_lib>/uws_server/schemas/``."""

    def _schema_targets(self) -> list[tuple[Path, Path]]:
        if self.editable_mode:
            return []
        if not SCHEMAS.is_dir():
            raise FileNotFoundError(f"{SCHEMAS}: the schemas the package ships are missing")
        target = Path(self.build_lib) / "uws_server" / "schemas"
        return [(path, target / path.relative_to(SCHEMAS))
                for path in sorted(SCHEMAS.rglob("*")) if path.is_file()]

    def run(self) -> None:
        """Build the package as usual, then copy the schemas beside it."""
        super().run()
        for source, target in self._schema_targets():
            self.mkpath(str(target.parent))
            self.copy_file(str(source), str(target))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        """The usual outputs and the schema copies (for ``install --record``)."""
        return [*super().get_outputs(include_bytecode),
                *(str(target) for _, target in self._schema_targets())]


setup(cmdclass={"build_py": BuildPyWithSchemas})
