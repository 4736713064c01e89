"""Package layout that pyproject.toml cannot express: the repository's top-level ``assets/``
folder (the dashboard page) is installed as ``web/assets`` inside the package, so that an
installed wheel serves it (``web.app`` finds it with ``importlib.resources``).

``cogs`` is a namespace package (no ``__init__.py``) so that it merges with a host bot's own
``cogs/`` folder. ``sandbox``, ``benchmarks`` and ``tests`` stay in the repository.
"""

from setuptools import find_namespace_packages, setup

PACKAGES = find_namespace_packages(
    include=["monitoring", "monitoring.*", "cogs", "cogs.*", "web", "web.*"],
    exclude=["*.__pycache__", "web.frontend*"],
)

setup(
    packages=[*PACKAGES, "web.assets", "web.assets.vendor"],
    package_dir={"web.assets": "assets", "web.assets.vendor": "assets/vendor"},
    package_data={"web.assets": ["*.html", "*.js", "*.css", "*.svg"], "web.assets.vendor": ["*"]},
)
