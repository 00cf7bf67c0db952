from setuptools import find_namespace_packages, setup

setup(
    name="wwpdb.apps.msgmodule",
    version="0.1.0",
    description="wwPDB OneDep deposition messages in mmCIF archive files, MySQL, or both",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_namespace_packages(include=["wwpdb.apps.msgmodule", "wwpdb.apps.msgmodule.*"]),
    package_data={"wwpdb.apps.msgmodule.db.migrations": ["script.py.mako"]},
    install_requires=[
        "gemmi>=0.6.5",
        "filelock>=3.12",
        "click>=8.1",
        "SQLAlchemy>=2.0",
        "PyMySQL>=1.1",
        "alembic>=1.12",
        "tenacity>=8.2",
        "tqdm>=4.60",
    ],
    extras_require={
        "dev": [
            "pytest>=8",
            "hypothesis>=6",
            "mmcif>=0.90",
            "ruff>=0.5",
            "mypy>=1.10",
            "tox>=4",
        ],
    },
    entry_points={"console_scripts": ["msgmodule=wwpdb.apps.msgmodule.cli:main"]},
)
