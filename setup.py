import re
from pathlib import Path

from setuptools import find_namespace_packages, setup

# One version, in the package: OneDep's workflow manager requires wwpdb.apps.msgmodule ~= 0.180.
VERSION = re.search(r'__version__ = "([^"]+)"', (Path(__file__).parent / "wwpdb/apps/msgmodule/__init__.py").read_text()).group(1)
# What a OneDep site has: its request objects and site configuration (the tests use them too).
ONEDEP = ["wwpdb.utils.session>=0.18", "wwpdb.utils.config>=0.52"]

setup(
    name="wwpdb.apps.msgmodule",
    version=VERSION,
    description="wwPDB OneDep deposition messages in mmCIF archive files, MySQL, or both",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_namespace_packages(include=["wwpdb.apps.msgmodule", "wwpdb.apps.msgmodule.*"]),
    package_data={
        "wwpdb.apps.msgmodule": ["py.typed"],
        "wwpdb.apps.msgmodule.db.migrations": ["script.py.mako"],
    },
    install_requires=[
        "gemmi>=0.6.5",
        "filelock>=3.30",
        "click>=8.1",
        "SQLAlchemy>=2.0",
        "PyMySQL>=1.1",
        "alembic>=1.12",
        "tqdm>=4.60",
        "prometheus_client>=0.17",
        "WebOb>=1.8.9",  # 1.8.9 brings legacy-cgi on Python 3.13, where cgi is gone
        "gunicorn>=21.2",
    ],
    extras_require={
        "onedep": ONEDEP,
        "plot": ["matplotlib>=3.7"],  # msgmodule status --plot
        "dev": [
            *ONEDEP,
            "matplotlib>=3.7",
            "pytest>=8",
            "pytest-xdist>=3.5",
            "hypothesis>=6",
            "mmcif>=0.90",
            "ruff>=0.5",
            "mypy>=1.10",
            "tox>=4",
            "pytest-cov>=5",
            "bandit>=1.7.7",
            "pip-audit>=2.7",
            "build>=1.0",
            "psutil>=5.9",
            "mkdocs>=1.6",
            "mkdocstrings-python>=1.10",
            "mkdocs-include-markdown-plugin>=6",
            "selenium>=4.15",
        ],
    },
    entry_points={
        "console_scripts": [
            "msgmodule=wwpdb.apps.msgmodule.cli:main",
            "msgmodule-init-db=wwpdb.apps.msgmodule.tools.console:init_db",
            "msgmodule-migrate=wwpdb.apps.msgmodule.tools.console:migrate",
            "msgmodule-validate=wwpdb.apps.msgmodule.tools.console:validate",
            "msgmodule-export=wwpdb.apps.msgmodule.tools.console:export",
            "msgmodule-validate-integration=wwpdb.apps.msgmodule.tools.console:validate_integration",
        ],
    },
)
