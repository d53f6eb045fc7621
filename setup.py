"""Builds the optional compiled reward kernel; all other metadata is in pyproject.toml.

``rr_gym.wrappers._mlp_kernel`` is a plain C library (no Python API) that the env wrappers
load with ctypes (see ``rr_gym/wrappers/native.py``). It is optional: without a C compiler,
or where it fails to build, rr_gym installs without it and evaluates rewards in NumPy.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "rr_gym.wrappers._mlp_kernel",
            sources=["rr_gym/wrappers/mlp_kernel.c"],
            optional=True,
        )
    ]
)
